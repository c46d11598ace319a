// The Fetch standard's `Headers` (§5.2) for vats; QuickJS has none. A vat has no origin to
// protect, so there are no forbidden header names (the host's fetch decides what it sends);
// the one guard kept is "immutable", for the headers of a fetched response.

import { slotReader } from './slots.js';

/** RFC 9110's token: header names and methods. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Leading or trailing HTTP whitespace, which a header value drops. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/** The name, lower-cased, or a TypeError for one that is not a token. */
const checkName = name => {
  const text = `${name}`;
  if (!TOKEN.test(text)) {
    throw TypeError(`"${text}" is not a valid header name`);
  }
  return text.toLowerCase();
};

/** The value trimmed, or a TypeError for one holding NUL, CR, LF or a character past U+00FF. */
const checkValue = value => {
  const text = `${value}`.replace(EDGE_WHITESPACE, '');
  // Header values are bytes (a WebIDL ByteString).
  if (/[\0\r\n\u0100-\uffff]/.test(text)) {
    throw TypeError(`"${text}" is not a valid header value`);
  }
  return text;
};

/** Each Headers' list of [lower-cased name, value] in the order added, and its guard. */
const states = new WeakMap();

const stateOf = slotReader(states, 'Headers');

/** The state of `headers`, for a change its guard allows. */
const mutable = headers => {
  const state = stateOf(headers);
  if (state.immutable) {
    throw TypeError('These headers are immutable');
  }
  return state;
};

/**
 * The pairs a HeadersInit holds: a sequence of pairs, a record, or a Headers (its list as it
 * is, which is what a Request copies from the Request it is made from).
 */
const pairsOf = init => {
  if (states.has(init)) {
    return states.get(init).list;
  }
  if (init === null || typeof init !== 'object') {
    throw TypeError('Headers need a Headers, a sequence of [name, value] pairs or a record');
  }
  if (typeof init[Symbol.iterator] === 'function') {
    return Array.from(init, pair => {
      const items = typeof pair === 'object' && pair !== null ? [...pair] : [];
      if (items.length !== 2) {
        throw TypeError('Each header must be a [name, value] pair');
      }
      return items;
    });
  }
  return Object.keys(init).map(name => [name, init[name]]);
};

/** The list as iteration shows it: sorted by name, values of one name combined but Set-Cookie's. */
const sorted = list => {
  const names = [...new Set(list.map(([name]) => name))].sort();
  return names.flatMap(name => {
    const values = list.filter(([n]) => n === name).map(([, value]) => value);
    return name === 'set-cookie'
      ? values.map(value => [name, value])
      : [[name, values.join(', ')]];
  });
};

export class Headers {
  constructor(init = undefined) {
    states.set(this, { list: [], immutable: false });
    if (init !== undefined) {
      for (const [name, value] of pairsOf(init)) {
        this.append(name, value);
      }
    }
  }

  append(name, value) {
    const pair = [checkName(name), checkValue(value)];
    mutable(this).list.push(pair);
  }

  delete(name) {
    const lower = checkName(name);
    const state = mutable(this);
    state.list = state.list.filter(([n]) => n !== lower);
  }

  get(name) {
    const lower = checkName(name);
    const values = stateOf(this).list.filter(([n]) => n === lower).map(([, v]) => v);
    return values.length === 0 ? null : values.join(', ');
  }

  getSetCookie() {
    return stateOf(this).list.filter(([n]) => n === 'set-cookie').map(([, v]) => v);
  }

  has(name) {
    const lower = checkName(name);
    return stateOf(this).list.some(([n]) => n === lower);
  }

  /** Replaces the first value of `name` and drops the others, keeping its place in the list. */
  set(name, value) {
    const pair = [checkName(name), checkValue(value)];
    const state = mutable(this);
    const first = state.list.findIndex(([n]) => n === pair[0]);
    if (first < 0) {
      state.list.push(pair);
    } else {
      state.list = state.list.filter(([n], i) => i <= first || n !== pair[0]);
      state.list[first] = pair;
    }
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') {
      throw TypeError('forEach needs a function');
    }
    for (const [name, value] of this) {
      callback.call(thisArg, value, name, this);
    }
  }

  entries() {
    return iterate(this, pair => pair);
  }

  keys() {
    return iterate(this, ([name]) => name);
  }

  values() {
    return iterate(this, ([, value]) => value);
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  get [Symbol.toStringTag]() {
    return 'Headers';
  }
}

/** Sorts again at each step, as the standard's iterators do, so changes made meanwhile show. */
function* iterate(headers, pick) {
  for (let i = 0; ; i += 1) {
    const pairs = sorted(stateOf(headers).list);
    if (i >= pairs.length) {
      return;
    }
    yield pick(pairs[i]);
  }
}

/** A copy of the [name, value] pairs, in the order added (what goes on the wire). */
export const headerList = headers => stateOf(headers).list.map(pair => [...pair]);

/** Headers holding `init` that no one may change (a fetched response's). */
export const immutableHeaders = init => {
  const headers = new Headers(init);
  stateOf(headers).immutable = true;
  return headers;
};

/** A copy of `headers` with the same guard (for a clone). */
export const cloneHeaders = headers =>
  stateOf(headers).immutable ? immutableHeaders(headers) : new Headers(headers);
