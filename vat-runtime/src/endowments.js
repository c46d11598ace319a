// The endowments of spec §3.2 that ocapd's built-in runtime provides, made per vat from this
// start compartment (where `Date` and `Math` still work) and the host. As in the reference,
// `Date.now()` gets up to 1 ms of random jitter and never goes back, and `Math.random` draws
// from the OS's randomness. `TextEncoder`/`TextDecoder` (UTF-8, as in browsers) are written
// here, QuickJS having none; `atob`/`btoa` are QuickJS's own; `URL` and `URLSearchParams` are
// whatwg-url's (url.js), loaded only for a vat that asks for one; `AbortController` and
// `AbortSignal` are ours (abort.js); `crypto.subtle` and `SubtleCrypto` are ours (subtle.js) over
// RustCrypto in the host.

import { AbortController, AbortSignal } from './abort.js';
import { named } from './errors.js';
import { makeSubtle } from './subtle.js';

const RealDate = globalThis.Date;
const RealMath = globalThis.Math;
const { atob, btoa } = globalThis;

/** `count` bytes of OS randomness, from the host. */
const makeRandomBytes = host => count => new Uint8Array(host.randomBytes(count));

// --- TextEncoder / TextDecoder ---------------------------------------------------------------

/** Encodes `source` as UTF-8 into `target` as far as whole code points fit. */
const encodeUtf8 = (source, target) => {
  let read = 0;
  let written = 0;
  const { length } = source;
  while (read < length) {
    let point = source.charCodeAt(read);
    let units = 1;
    if (point >= 0xd800 && point <= 0xdfff) {
      const next = read + 1 < length ? source.charCodeAt(read + 1) : 0;
      if (point <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else {
        point = 0xfffd;
      }
    }
    const size = point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
    if (written + size > target.length) {
      break;
    }
    if (size === 1) {
      target[written] = point;
    } else {
      const lead = [0, 0, 0xc0, 0xe0, 0xf0][size];
      target[written] = lead | (point >> (6 * (size - 1)));
      for (let i = 1; i < size; i += 1) {
        target[written + i] = 0x80 | ((point >> (6 * (size - 1 - i))) & 0x3f);
      }
    }
    written += size;
    read += units;
  }
  return { read, written };
};

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    const source = String(input);
    const target = new Uint8Array(source.length * 3);
    return target.slice(0, encodeUtf8(source, target).written);
  }

  encodeInto(source, target) {
    if (!(target instanceof Uint8Array)) {
      throw TypeError('encodeInto needs a Uint8Array');
    }
    return encodeUtf8(String(source), target);
  }
}

const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'];

/** The bytes of a BufferSource. */
const bytesOf = input => {
  if (input === undefined) {
    return new Uint8Array(0);
  }
  if (input instanceof ArrayBuffer) {
    return new Uint8Array(input);
  }
  if (ArrayBuffer.isView(input)) {
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  throw TypeError('decode needs an ArrayBuffer or an ArrayBufferView');
};

/** The WHATWG Encoding standard's UTF-8 decoder, with its state kept across streamed calls. */
export class TextDecoder {
  #fatal;
  #ignoreBOM;
  #needed = 0;
  #seen = 0;
  #point = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #started = false;

  constructor(label = 'utf-8', options = {}) {
    if (!UTF8_LABELS.includes(String(label).trim().toLowerCase())) {
      throw RangeError(`The "${label}" encoding is not supported (only UTF-8 is)`);
    }
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return 'utf-8';
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input, options = {}) {
    const bytes = bytesOf(input);
    const points = [];
    const emit = point => {
      if (!this.#started && !this.#ignoreBOM && point === 0xfeff) {
        this.#started = true;
        return;
      }
      this.#started = true;
      points.push(point);
    };
    const fail = () => {
      this.#reset();
      if (this.#fatal) {
        this.#started = false;
        throw TypeError('The encoded data was not valid UTF-8');
      }
      emit(0xfffd);
    };
    for (let i = 0; i < bytes.length; i += 1) {
      const byte = bytes[i];
      if (this.#needed === 0) {
        if (byte <= 0x7f) {
          emit(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          this.#needed = 1;
          this.#point = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#needed = 2;
          this.#point = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#needed = 3;
          this.#point = byte & 0x7;
        } else {
          fail();
        }
      } else if (byte < this.#lower || byte > this.#upper) {
        // The byte starts over: it is read again after the error.
        fail();
        i -= 1;
      } else {
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#point = (this.#point << 6) | (byte & 0x3f);
        this.#seen += 1;
        if (this.#seen === this.#needed) {
          const point = this.#point;
          this.#reset();
          emit(point);
        }
      }
    }
    if (!options.stream) {
      if (this.#needed !== 0) {
        fail();
      }
      this.#started = false;
    }
    let text = '';
    for (let i = 0; i < points.length; i += 4096) {
      text += String.fromCodePoint(...points.slice(i, i + 4096));
    }
    return text;
  }

  #reset() {
    this.#needed = 0;
    this.#seen = 0;
    this.#point = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }
}

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

/** The endowments a vat may ask for, by name; each call makes a fresh set. */
export const makeEndowments = host => {
  const randomBytes = makeRandomBytes(host);
  const random = makeRandom(randomBytes);
  const url = makeUrlLoader(host);
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
    get URL() {
      return url().URL;
    },
    get URLSearchParams() {
      return url().URLSearchParams;
    },
  });
};
