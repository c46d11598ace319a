// A vat for the endowment tests: each method exercises the globals of spec §3.2 that ocapd
// provides, when the config asks for them (`globals`).
import { Far } from '@endo/far';

const bytes = array => [...array];

const errorName = thunk => {
  try {
    thunk();
    return 'no error';
  } catch (error) {
    return error.name;
  }
};

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
    withoutGlobals() {
      return [
        typeof TextEncoder,
        typeof crypto,
        typeof URL,
        errorName(() => Date.now()),
        errorName(() => Math.random()),
      ];
    },
  });
}
