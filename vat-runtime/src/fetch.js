// `fetch` for vats (spec §3.2), restricted as the reference restricts it: a vat that asks for
// it must name `network.allowedHosts`, and a request whose URL's hostname is not one of them
// (exactly: no port or scheme) or that targets `file:` is rejected with the reference's texts.
// The request itself is made by the host on a thread of its own (src/vat/http.rs, which also
// checks every redirect); its outcome comes back when the kernel wakes the vat (`settle`, called
// by the supervisor's `wake`), so the response arrives in a crank of its own, as a timer does.
// A network failure rejects with `TypeError('fetch failed')` and the reason as its `cause`, as
// in Node.

/** A vat's network over `host` (`fetchStart(id, requestJson, bodyBuffer)`). */
export const makeNetwork = host => {
  /** Requests in flight by id: how to settle each. */
  const pending = new Map();
  let lastId = 0;

  /**
   * `fetch` for hosts `allowedHosts`, over the Fetch classes (`Request`, and the internal
   * `makeResponse` and `requestParts` of http.js) and `URL`.
   */
  const makeFetch = (allowedHosts, { Request, makeResponse, requestParts, URL }) => {
    const allowed = [...allowedHosts];
    const fetch = async (input, init = undefined) => {
      const request = new Request(input, init);
      const { hostname, protocol } = new URL(request.url);
      if (protocol === 'file:') {
        throw Error(
          'fetch cannot target file:// URLs. Use the fs platform capability ' +
            '(VatConfig.platformConfig.fs) for filesystem access.',
        );
      }
      if (!allowed.includes(hostname)) {
        throw Error(`Invalid host: ${hostname}`);
      }
      const { signal } = request;
      signal.throwIfAborted();
      const { method, url, headers, body } = requestParts(request);
      lastId += 1;
      const id = lastId;
      const json = JSON.stringify({ method, url, headers, redirect: request.redirect });
      host.fetchStart(id, json, body ? body.slice().buffer : undefined);
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          pending.delete(id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort);
        pending.set(id, {
          resolve: outcome => resolve(makeResponse(outcome)),
          reject,
          forget: () => signal.removeEventListener('abort', onAbort),
        });
      });
    };
    return harden(fetch);
  };

  /**
   * Settles the requests that finished: `outcomesJson` lists `{id, error}` or `{id, status,
   * statusText, headers, url, redirected}`, and `bodies` holds each one's body, in order. A
   * request the vat aborted meanwhile is no longer pending: its outcome is dropped.
   */
  const settle = (outcomesJson, bodies) => {
    JSON.parse(outcomesJson).forEach((outcome, index) => {
      const entry = pending.get(outcome.id);
      if (entry === undefined) {
        return;
      }
      pending.delete(outcome.id);
      entry.forget();
      if (outcome.error !== undefined) {
        entry.reject(TypeError('fetch failed', { cause: Error(outcome.error) }));
      } else {
        entry.resolve({ ...outcome, body: new Uint8Array(bodies[index]) });
      }
    });
  };

  return { makeFetch, settle };
};
