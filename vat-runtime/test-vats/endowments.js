// A vat for the endowment tests: each method exercises the globals of spec §3.2 that ocapd
// provides, when the config asks for them (`globals`).
import { Far } from '@endo/far';
import { errorName, rejection } from './support/errors.js';

const bytes = array => [...array];

const site = 'https://example.org/';

export function buildRootObject() {
  return Far('root', {
    text() {
      const encoder = new TextEncoder();
      const decode = (list, options) => new TextDecoder('utf-8', options).decode(new Uint8Array(list));
      const streamed = new TextDecoder();
      const euro = streamed.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) +
        streamed.decode(new Uint8Array([0xac]));
      return [
        bytes(encoder.encode('a\u20ac\u{1F600}\uD800b')),
        encoder.encodeInto('a\u20ac', new Uint8Array(3)),
        decode([0xef, 0xbb, 0xbf, 0x68, 0x69]),
        decode([0xef, 0xbb, 0xbf, 0x68], { ignoreBOM: true }).length,
        decode([0xc0, 0x80, 0x41]),
        decode([0xe2, 0x82]),
        decode([0xf0, 0x9f, 0x98, 0x41]),
        euro,
        errorName(() => decode([0xff], { fatal: true })),
        errorName(() => new TextDecoder('latin1')),
        new TextDecoder('UTF8').encoding,
      ];
    },
    base64() {
      return [btoa('hello'), atob('aGVsbG8=')];
    },
    random() {
      const values = crypto.getRandomValues(new Uint8Array(32));
      const floats = Array.from({ length: 100 }, () => Math.random());
      return [
        values.length,
        values.some(x => x !== 0),
        crypto.getRandomValues(new BigUint64Array(2)).length,
        errorName(() => crypto.getRandomValues(new Uint8Array(65537))),
        errorName(() => crypto.getRandomValues(new DataView(new ArrayBuffer(8)))),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
        floats.every(x => x >= 0 && x < 1),
        new Set(floats).size,
        Math.max(2, 7),
        Object.isFrozen(Math),
      ];
    },
    clock(hostNow) {
      const first = Date.now();
      const second = Date.now();
      return [
        second >= first,
        Math.abs(first - hostNow) < 60000,
        new Date() instanceof Date,
        typeof Date(),
        new Date(0).toISOString(),
        Date.UTC(2000, 0, 1),
      ];
    },
    url() {
      const url = new URL('HTTPS://user:pw@\u4F8B\u3048.jp:8080/a/../b?x=1&y=two%20words#f');
      const params = new URLSearchParams('a=1&b=%20&a=3');
      params.append('c', 'd&e');
      return [
        url.href,
        url.hostname,
        url.port,
        url.searchParams.get('y'),
        new URL('../c?q', 'https://h.example/a/b/').href,
        params.getAll('a'),
        params.toString(),
        errorName(() => new URL('no scheme')),
        URL.canParse('mailto:x@example.org'),
      ];
    },
    abort() {
      const controller = new AbortController();
      const { signal } = controller;
      const seen = [];
      signal.addEventListener('abort', event => seen.push(`once ${event.type}`), { once: true });
      signal.onabort = () => seen.push('replaced');
      const listener = () => seen.push('listener');
      signal.addEventListener('abort', listener);
      signal.addEventListener('abort', listener);
      signal.onabort = () => seen.push('onabort');
      const other = new AbortController();
      const either = AbortSignal.any([other.signal, signal]);
      const before = [signal.aborted, either.aborted];
      controller.abort('why');
      controller.abort('again');
      return [
        before,
        signal.aborted,
        signal.reason,
        either.reason,
        seen,
        (() => {
          try {
            signal.throwIfAborted();
            return 'no throw';
          } catch (reason) {
            return reason;
          }
        })(),
        AbortSignal.abort().reason.name,
        errorName(() => new AbortSignal()),
        other.signal.aborted,
        typeof AbortSignal.timeout,
      ];
    },
    headers() {
      const headers = new Headers([['B', ' 2\t'], ['a', '1'], ['Set-Cookie', 'x=1']]);
      headers.append('A', '3');
      headers.append('set-cookie', 'y=2');
      const copy = new Headers(headers);
      copy.set('a', 'only');
      copy.delete('B');
      const seen = [];
      headers.forEach((value, name, self) => seen.push(`${name}=${value}`, self === headers));
      const keys = headers.keys();
      keys.next();
      headers.append('c', '4');
      return [
        [...headers],
        [...keys],
        [...headers.values()],
        [headers.get('A'), headers.get('set-cookie'), headers.get('none')],
        headers.has('SET-COOKIE'),
        headers.getSetCookie(),
        [...copy],
        [...new Headers({ 'X-One': 'v' })],
        seen,
        Object.prototype.toString.call(headers),
        errorName(() => headers.append('bad name', 'v')),
        errorName(() => headers.append('x', 'a\r\nb')),
        errorName(() => headers.set('x', '\u20ac')),
        errorName(() => headers.get('\u00e9')),
        errorName(() => new Headers([['just one']])),
        errorName(() => new Headers('a: b')),
      ];
    },
    async request() {
      const headers = { 'X-A': '1' };
      const post = new Request(`${site}a?b#f`, { method: 'post', body: 'h\u00e9', headers });
      const made = [post.url, post.method, [...post.headers], post.bodyUsed];
      const derived = new Request(post, { headers: [['x-b', '2']] });
      const controller = new AbortController();
      const signalled = new Request(site, { signal: controller.signal });
      const clone = signalled.clone();
      controller.abort('stop');
      const get = new Request(new URL(site));
      const offset = new Uint8Array([0, 104, 105, 0]).subarray(1, 3);
      const form = new Request(site, { method: 'PUT', body: new URLSearchParams('a=1&b=2 3') });
      return [
        made,
        [derived.method, [...derived.headers], post.bodyUsed, derived.bodyUsed],
        [await derived.text(), derived.bodyUsed, await rejection(() => derived.text())],
        new Request(site, { method: 'patch' }).method,
        [signalled.signal.aborted, clone.signal.aborted, clone.signal.reason],
        await new Request(site, { method: 'POST', body: '{"x":[1]}' }).json(),
        [...(await new Request(site, { method: 'POST', body: offset }).bytes())],
        [...new Uint8Array(await new Response(offset.buffer).arrayBuffer())],
        [form.headers.get('content-type'), await form.text()],
        [get.url, get.method, get.mode, get.credentials, get.cache, get.redirect, get.referrer],
        [get.integrity, get.keepalive, get.destination, get.body, get.bodyUsed, get.signal.aborted],
        [await get.text(), await get.text(), get.bodyUsed],
        errorName(() => new Request('/relative')),
        errorName(() => new Request('https://user:pw@example.org/')),
        errorName(() => new Request(site, { method: 'CONNECT' })),
        errorName(() => new Request(site, { method: 'trace' })),
        errorName(() => new Request(site, { method: 'two words' })),
        errorName(() => new Request(site, { body: 'x' })),
        errorName(() => new Request(site, { method: 'HEAD', body: 'x' })),
        errorName(() => new Request(site, { redirect: 'sometimes' })),
        errorName(() => new Request(site, { signal: {} })),
        errorName(() => post.clone()),
        errorName(() => new Request(post)),
        await rejection(() => get.blob()),
        await rejection(() => get.formData()),
      ];
    },
    async response() {
      const headers = { 'X-A': '1' };
      const plain = new Response('hi', { status: 201, statusText: 'Made', headers });
      const clone = plain.clone();
      const empty = new Response();
      const json = Response.json({ a: [1] }, { status: 202 });
      const redirect = Response.redirect(`${site}next`, 307);
      const error = Response.error();
      const bom = new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68]));
      return [
        [plain.status, plain.statusText, plain.ok, plain.type, plain.url, plain.redirected],
        [...plain.headers],
        [await plain.text(), plain.bodyUsed, await rejection(() => plain.arrayBuffer())],
        [await clone.text(), errorName(() => plain.clone())],
        [empty.status, empty.body, await empty.text(), empty.bodyUsed],
        [json.status, json.headers.get('content-type'), await json.json()],
        [redirect.status, redirect.headers.get('location'), redirect.body],
        [error.type, error.status, error.ok, [...error.headers]],
        [await bom.text(), new Response(null, { status: 204 }).status],
        errorName(() => error.headers.set('x', 'y')),
        errorName(() => redirect.headers.delete('location')),
        errorName(() => new Response('x', { status: 199 })),
        errorName(() => new Response('x', { status: 600 })),
        errorName(() => new Response('x', { status: 204 })),
        errorName(() => new Response('', { statusText: 'a\nb' })),
        errorName(() => Response.redirect(site, 200)),
        errorName(() => Response.redirect('/relative')),
        errorName(() => Response.json(undefined)),
        await rejection(() => new Response('{').json()),
        await rejection(() => new Response('x').blob()),
      ];
    },
    fetchClassesAreHardened() {
      return [
        [Headers, Request, Response].flatMap(Class => [
          Object.isFrozen(Class),
          Object.isFrozen(Class.prototype),
        ]),
        Object.isFrozen(Request.prototype.text),
        errorName(() => {
          Response.prototype.text = () => 'forged';
        }),
      ];
    },
    withoutGlobals() {
      return [
        typeof TextEncoder,
        typeof crypto,
        typeof URL,
        typeof Request,
        errorName(() => Date.now()),
        errorName(() => Math.random()),
      ];
    },
  });
}
