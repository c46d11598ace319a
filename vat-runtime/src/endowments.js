// The endowments of spec §3.2 that ocapd's built-in runtime provides, made per vat from this
// start compartment (where `Date` and `Math` still work) and the host. As in the reference,
// `Date.now()` gets up to 1 ms of random jitter and never goes back, and `Math.random` draws
// from the OS's randomness. `TextEncoder`/`TextDecoder` (UTF-8, as in browsers) are ours
// (text.js), QuickJS having none; `atob`/`btoa` are QuickJS's own; `URL` and `URLSearchParams`
// are whatwg-url's (url.js), loaded only for a vat that asks for one or for a Fetch class;
// `AbortController` and `AbortSignal` are ours (abort.js), and so are the Fetch classes
// `Headers`, `Request` and `Response` (http.js), `fetch` (fetch.js, made by the supervisor), and
// `crypto.subtle` and `SubtleCrypto` (subtle.js, over RustCrypto in the host).

import { AbortController, AbortSignal } from './abort.js';
import { named } from './errors.js';
import { makeHttp } from './http.js';
import { makeSubtle } from './subtle.js';
import { TextDecoder, TextEncoder } from './text.js';

const RealDate = globalThis.Date;
const RealMath = globalThis.Math;
const { atob, btoa } = globalThis;

/** `count` bytes of OS randomness, from the host. */
const makeRandomBytes = host => count => new Uint8Array(host.randomBytes(count));

// --- crypto, Math, Date ----------------------------------------------------------------------

const INTEGER_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
];

const makeCrypto = (randomBytes, subtle) => {
  const getRandomValues = array => {
    if (!INTEGER_ARRAYS.some(Kind => array instanceof Kind)) {
      throw named(TypeError('getRandomValues needs an integer typed array'), 'TypeMismatchError');
    }
    if (array.byteLength > 65536) {
      throw named(
        Error(`getRandomValues: ${array.byteLength} bytes asked, at most 65536 at a time`),
        'QuotaExceededError',
      );
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(
      randomBytes(array.byteLength),
    );
    return array;
  };
  const randomUUID = () => {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map(x => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  return { getRandomValues, randomUUID, subtle };
};

/** A float in [0, 1) from 53 random bits, drawn from a pool refilled from the OS. */
const makeRandom = randomBytes => {
  let pool = new Uint8Array(0);
  let at = 0;
  return () => {
    if (at + 7 > pool.length) {
      pool = randomBytes(1024);
      at = 0;
    }
    let high = 0;
    for (let i = 0; i < 3; i += 1) high = high * 256 + pool[at + i];
    let low = 0;
    for (let i = 3; i < 7; i += 1) low = low * 256 + pool[at + i];
    at += 7;
    // 21 bits of `high` and 32 of `low`.
    return ((high & 0x1fffff) * 2 ** 32 + low) / 2 ** 53;
  };
};

const makeMath = random => {
  const math = {};
  for (const name of Reflect.ownKeys(RealMath)) {
    const descriptor = Object.getOwnPropertyDescriptor(RealMath, name);
    Object.defineProperty(math, name, name === 'random' ? { ...descriptor, value: random } : descriptor);
  }
  return math;
};

/** `Date` whose clock has up to 1 ms of jitter and never goes back (the reference's). */
const makeDate = random => {
  let last = -Infinity;
  const now = () => {
    last = Math.max(last, Math.round(RealDate.now() + random()));
    return last;
  };
  function Date(...args) {
    if (new.target === undefined) {
      return RealDate.prototype.toString.call(new RealDate(now()));
    }
    const made = args.length === 0 ? [now()] : args;
    return Reflect.construct(RealDate, made, new.target);
  }
  Object.defineProperties(Date, {
    prototype: { value: RealDate.prototype },
    now: { value: now, writable: true, configurable: true },
    parse: { value: RealDate.parse, writable: true, configurable: true },
    UTC: { value: RealDate.UTC, writable: true, configurable: true },
  });
  return Date;
};

/** `URL` and `URLSearchParams`, evaluated by the host on first use (see url.js). */
const makeUrlLoader = host => {
  let url;
  return () => {
    if (url === undefined) {
      host.loadUrl();
      url = globalThis.ocapUrl;
      delete globalThis.ocapUrl;
    }
    return url;
  };
};

/**
 * `Headers`, `Request` and `Response`, made on first use. They load `URL` (to parse requests'
 * URLs and take URLSearchParams bodies), so a vat asking only for `Headers` loads it too.
 */
const makeHttpLoader = url => {
  let http;
  return () => {
    http ??= makeHttp(url());
    return http;
  };
};

/**
 * The endowments a vat may ask for, by name; each call makes a fresh set. `timers` are the
 * vat's own (timers.js); `makeFetch` makes its `fetch` over the Fetch classes (fetch.js).
 */
export const makeEndowments = (host, timers, makeFetch) => {
  const randomBytes = makeRandomBytes(host);
  const random = makeRandom(randomBytes);
  const url = makeUrlLoader(host);
  const http = makeHttpLoader(url);
  const { SubtleCrypto, subtle } = makeSubtle(host, randomBytes);
  return harden({
    __proto__: null,
    TextEncoder,
    TextDecoder,
    AbortController,
    AbortSignal,
    atob,
    btoa,
    crypto: makeCrypto(randomBytes, subtle),
    SubtleCrypto,
    Math: makeMath(random),
    Date: makeDate(random),
    ...timers,
    get URL() {
      return url().URL;
    },
    get URLSearchParams() {
      return url().URLSearchParams;
    },
    get Headers() {
      return http().Headers;
    },
    get Request() {
      return http().Request;
    },
    get Response() {
      return http().Response;
    },
    get fetch() {
      return makeFetch({ ...http(), URL: url().URL });
    },
  });
};
