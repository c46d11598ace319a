// The Fetch standard's Body mixin (§5.3) for Request and Response. QuickJS has no streams, no
// Blob and no FormData, so a body is always bytes held whole: `body` (a ReadableStream in
// browsers) is null, `blob()` and `formData()` reject, and the host's fetch reads and sends the
// bytes in one piece.

import { named } from './errors.js';
import { slotReader } from './slots.js';
import { TextDecoder, TextEncoder, viewOf } from './text.js';

/** Each Request's or Response's body: its bytes (null for none) and whether it was read. */
const bodies = new WeakMap();

const stateOf = slotReader(bodies, 'Request or Response');

/** Gives `object` a body of `bytes` (null for none), not yet read. */
export const setBody = (object, bytes) => bodies.set(object, { bytes, used: false });

/** The bytes of a body still unread (null for none), without reading it (to clone it). */
export const peekBody = object => {
  const state = stateOf(object);
  if (state.used) {
    throw TypeError('The body has already been read');
  }
  return state.bytes;
};

/** The bytes of a body still unread (null for none), marking it read. */
export const takeBody = object => {
  const bytes = peekBody(object);
  if (bytes !== null) {
    stateOf(object).used = true;
  }
  return bytes;
};

/**
 * The bytes and default Content-Type of a BodyInit (null for none). Other objects become text,
 * as WebIDL makes them for the union's string member.
 */
export const extractBody = (init, URLSearchParams) => {
  if (init === undefined || init === null) {
    return { bytes: null, type: null };
  }
  const view = viewOf(init);
  if (view !== undefined) {
    // A copy, as the standard takes: the caller may write to its buffer afterwards.
    return { bytes: view.slice(), type: null };
  }
  const encode = text => new TextEncoder().encode(text);
  if (init instanceof URLSearchParams) {
    const type = 'application/x-www-form-urlencoded;charset=UTF-8';
    return { bytes: encode(init.toString()), type };
  }
  return { bytes: encode(`${init}`), type: 'text/plain;charset=UTF-8' };
};

const notSupported = kind =>
  Promise.reject(named(Error(`ocapd's vats have no ${kind}`), 'NotSupportedError'));

/** The members of the mixin, copied onto Request's and Response's prototypes. */
class Body {
  /** Always null: QuickJS has no ReadableStream; the read methods give the whole body. */
  get body() {
    stateOf(this);
    return null;
  }

  get bodyUsed() {
    return stateOf(this).used;
  }

  /** A copy: a clone shares the bytes. */
  async bytes() {
    return (takeBody(this) ?? new Uint8Array(0)).slice();
  }

  async arrayBuffer() {
    return (await this.bytes()).buffer;
  }

  async text() {
    return new TextDecoder().decode(await this.bytes());
  }

  async json() {
    return JSON.parse(await this.text());
  }

  blob() {
    return notSupported('Blob');
  }

  formData() {
    return notSupported('FormData');
  }
}

/** Makes `Class` have the Body members (non-enumerable, as class members are). */
export const mixBody = Class => {
  for (const key of Reflect.ownKeys(Body.prototype)) {
    if (key !== 'constructor') {
      const descriptor = Object.getOwnPropertyDescriptor(Body.prototype, key);
      Object.defineProperty(Class.prototype, key, descriptor);
    }
  }
};
