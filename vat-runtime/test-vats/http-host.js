// A vat for testing the helpers the host's fetch uses (`requestParts`, `makeResponse`), which
// no vat is given: it bundles http.js itself, over the `URL` endowments it asks for.
import { Far } from '@endo/far';
import { makeHttp } from '../src/http.js';
import { errorName } from './support/errors.js';

export function buildRootObject() {
  const { Request, Response, makeResponse, requestParts } = makeHttp({ URL, URLSearchParams });
  return Far('root', {
    requestParts() {
      const request = new Request('https://example.org/p?q=1#frag', {
        method: 'POST',
        headers: [['X-B', '2'], ['x-a', '1']],
        body: 'h\u00e9',
      });
      const parts = requestParts(request);
      const get = requestParts(new Request('https://example.org/'));
      return [
        { ...parts, body: [...parts.body] },
        parts.body instanceof Uint8Array,
        request.bodyUsed,
        errorName(() => requestParts(request)),
        get,
        errorName(() => requestParts({})),
      ];
    },
    async makeResponse() {
      const response = makeResponse({
        status: 404,
        statusText: 'Not Found',
        headers: [['Content-Type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']],
        body: new Uint8Array([104, 105]),
        url: 'https://example.org/last#frag',
        redirected: true,
      });
      const noContent = makeResponse({ status: 204, body: new Uint8Array([1]) });
      return [
        response instanceof Response,
        [response.type, response.status, response.statusText, response.ok, response.url],
        [response.redirected, [...response.headers], response.headers.getSetCookie()],
        errorName(() => response.headers.append('x', 'y')),
        await response.clone().text(),
        await response.text(),
        [noContent.url, noContent.redirected, await noContent.text(), noContent.bodyUsed],
        errorName(() => makeResponse({ status: 42 })),
        errorName(() => makeResponse({ status: 200, url: 'relative' })),
      ];
    },
  });
}
