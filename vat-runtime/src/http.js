// The Fetch standard's `Request` and `Response` (§5.4–5.5) for vats, over headers.js and
// body.js, with the two helpers the host's `fetch` needs: `requestParts` to send a Request and
// `makeResponse` to hand back what came. A vat has no document, so no base URL (only absolute
// URLs), no origin (no CORS: `mode`, `credentials` and the like are kept only as given) and no
// cookie jar.

import { AbortController, AbortSignal } from './abort.js';
import { extractBody, mixBody, peekBody, setBody, takeBody } from './body.js';
import { cloneHeaders, headerList, Headers, immutableHeaders, TOKEN } from './headers.js';
import { slotReader } from './slots.js';

/** Methods a Request may not have; the standard's normalized ones (PATCH is not among them). */
const FORBIDDEN_METHODS = ['CONNECT', 'TRACE', 'TRACK'];
const NORMALIZED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];

/** RequestInit's enumerations, each with its default first. */
const REQUEST_ENUMS = {
  mode: ['cors', 'same-origin', 'no-cors', 'navigate'],
  credentials: ['same-origin', 'omit', 'include'],
  cache: ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'],
  redirect: ['follow', 'error', 'manual'],
  referrerPolicy: [
    '',
    'no-referrer',
    'no-referrer-when-downgrade',
    'same-origin',
    'origin',
    'strict-origin',
    'origin-when-cross-origin',
    'strict-origin-when-cross-origin',
    'unsafe-url',
  ],
};

/** Statuses whose responses have no body. */
const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

/** An init dictionary: WebIDL takes null and undefined for an empty one. */
const dictionary = init => {
  if (init === undefined || init === null) {
    return {};
  }
  if (typeof init !== 'object' && typeof init !== 'function') {
    throw TypeError('init must be an object');
  }
  return init;
};

const checkMethod = method => {
  const text = `${method}`;
  const upper = text.toUpperCase();
  if (!TOKEN.test(text) || FORBIDDEN_METHODS.includes(upper)) {
    throw TypeError(`"${text}" is not a method a Request may have`);
  }
  return NORMALIZED_METHODS.includes(upper) ? upper : text;
};

/** The value of enumeration `name` in `init`, else `inherited`, else its default. */
const enumValue = (init, name, inherited) => {
  const allowed = REQUEST_ENUMS[name];
  const value = init[name] === undefined ? (inherited ?? allowed[0]) : `${init[name]}`;
  if (!allowed.includes(value)) {
    throw TypeError(`"${value}" is not a valid ${name}`);
  }
  return value;
};

/** WebIDL's `unsigned short`, as statuses are. */
const unsignedShort = value => {
  const number = Math.trunc(Number(value));
  return Number.isFinite(number) ? ((number % 65536) + 65536) % 65536 : 0;
};

/** The href of `url` (a URL the caller owns) without its fragment, as HTTP sends it. */
const withoutFragment = url => {
  url.hash = '';
  return url.href;
};

/** `Request`, `Response` and the host's helpers, over whatwg-url's `URL` and `URLSearchParams`. */
export const makeHttp = ({ URL, URLSearchParams }) => {
  const parseUrl = (text, what) => {
    try {
      return new URL(text);
    } catch {
      throw TypeError(`${what} "${text}" is not an absolute URL (a vat has no base URL)`);
    }
  };

  const requests = new WeakMap();
  const responses = new WeakMap();
  const requestOf = slotReader(requests, 'Request');
  const responseOf = slotReader(responses, 'Response');

  /** The state of a Request made from `input` (a URL or a Request) and `init`. */
  const requestState = (input, init) => {
    const from = requests.get(input);
    const url = from ? from.url : parseUrl(`${input}`, 'Request URL');
    if (!from && (url.username !== '' || url.password !== '')) {
      throw TypeError(`Request URL "${input}" must not hold credentials`);
    }
    const method = init.method === undefined ? (from?.method ?? 'GET') : checkMethod(init.method);
    const state = { url, method };
    for (const name of Object.keys(REQUEST_ENUMS)) {
      state[name] = enumValue(init, name, from?.[name]);
    }
    if (init.mode === 'navigate') {
      throw TypeError('A Request cannot be made with mode "navigate"');
    }
    if (state.cache === 'only-if-cached' && state.mode !== 'same-origin') {
      throw TypeError('cache "only-if-cached" needs mode "same-origin"');
    }
    if (state.mode === 'no-cors' && !['GET', 'HEAD', 'POST'].includes(method)) {
      throw TypeError(`mode "no-cors" allows only GET, HEAD and POST, not ${method}`);
    }
    state.referrer = referrer(init.referrer, from?.referrer);
    state.integrity = init.integrity === undefined ? (from?.integrity ?? '') : `${init.integrity}`;
    state.keepalive = init.keepalive === undefined ? (from?.keepalive ?? false) : !!init.keepalive;
    const signal = init.signal === undefined ? from?.signal : init.signal;
    if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
      throw TypeError('A Request signal must be an AbortSignal');
    }
    state.signal = signal ?? null; // to follow: see the constructor
    state.headers = new Headers(init.headers === undefined ? from?.headers : init.headers);
    return state;
  };

  /** A RequestInit's referrer: '' for none, 'about:client' or an absolute URL. */
  const referrer = (given, inherited) => {
    if (given === undefined) {
      return inherited ?? 'about:client';
    }
    const text = `${given}`;
    return text === '' ? '' : parseUrl(text, 'Referrer').href;
  };

  class Request {
    constructor(input, init = {}) {
      const options = dictionary(init);
      const state = requestState(input, options);
      const ownBody = options.body !== undefined && options.body !== null;
      // A body not given comes from the Request made from, which is then used up.
      const inherits = !ownBody && requests.has(input) && peekBody(input) !== null;
      if ((ownBody || inherits) && (state.method === 'GET' || state.method === 'HEAD')) {
        throw TypeError(`A ${state.method} Request cannot have a body`);
      }
      const body = ownBody ? extractBody(options.body, URLSearchParams) : { type: null };
      if (body.type !== null && !state.headers.has('content-type')) {
        state.headers.append('content-type', body.type);
      }
      // The Request's own signal follows the one given, as the standard's does; made once
      // nothing can throw, since the one followed keeps it.
      const { signal } = state;
      state.signal = signal ? AbortSignal.any([signal]) : new AbortController().signal;
      requests.set(this, state);
      setBody(this, ownBody ? body.bytes : inherits ? takeBody(input) : null);
    }

    get url() {
      return requestOf(this).url.href;
    }

    get destination() {
      requestOf(this);
      return '';
    }

    clone() {
      const state = requestOf(this);
      const copy = Object.create(Request.prototype);
      const signal = AbortSignal.any([state.signal]);
      requests.set(copy, { ...state, headers: cloneHeaders(state.headers), signal });
      setBody(copy, peekBody(this));
      return copy;
    }

    get [Symbol.toStringTag]() {
      return 'Request';
    }
  }
  const requestFields = ['method', 'headers', 'signal', 'referrer', 'integrity', 'keepalive'];
  // The getters that only read a field of the state, made in one loop.
  for (const name of [...requestFields, ...Object.keys(REQUEST_ENUMS)]) {
    Object.defineProperty(Request.prototype, name, {
      get() {
        return requestOf(this)[name];
      },
      configurable: true,
    });
  }
  mixBody(Request);

  /** Gives `response` the state `fields` (over the defaults) and body `bytes` (null for none). */
  const settle = (response, fields, bytes) => {
    const defaults = { type: 'default', url: '', redirected: false, statusText: '' };
    responses.set(response, { ...defaults, ...fields });
    setBody(response, bytes);
    return response;
  };
  /** A Response made without the constructor's checks. */
  const build = (fields, bytes) => settle(Object.create(Response.prototype), fields, bytes);

  /** Initializes a response from `init` and `body` ({ bytes, type } or null), as §5.5 does. */
  const initialize = (response, init, body) => {
    const options = dictionary(init);
    const status = options.status === undefined ? 200 : unsignedShort(options.status);
    if (status < 200 || status > 599) {
      throw RangeError(`A Response status must be in 200–599, not ${status}`);
    }
    const statusText = options.statusText === undefined ? '' : `${options.statusText}`;
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) {
      throw TypeError(`"${statusText}" is not a valid status text`);
    }
    if (body !== null && NULL_BODY_STATUSES.includes(status)) {
      throw TypeError(`A ${status} Response cannot have a body`);
    }
    const headers = new Headers(options.headers);
    if (body?.type && !headers.has('content-type')) {
      headers.append('content-type', body.type);
    }
    return settle(response, { status, statusText, headers }, body?.bytes ?? null);
  };

  class Response {
    constructor(body = null, init = {}) {
      const given = body !== null && body !== undefined;
      initialize(this, init, given ? extractBody(body, URLSearchParams) : null);
    }

    static error() {
      return build({ type: 'error', status: 0, headers: immutableHeaders() }, null);
    }

    static redirect(url, status = 302) {
      const target = parseUrl(`${url}`, 'Redirect URL');
      const code = unsignedShort(status);
      if (!REDIRECT_STATUSES.includes(code)) {
        throw RangeError(`${code} is not a redirect status`);
      }
      return build({ status: code, headers: immutableHeaders([['location', target.href]]) }, null);
    }

    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) {
        throw TypeError(`${typeof data} cannot be serialized as JSON`);
      }
      const body = { bytes: extractBody(text, URLSearchParams).bytes, type: 'application/json' };
      return initialize(Object.create(Response.prototype), init, body);
    }

    get ok() {
      const { status } = responseOf(this);
      return status >= 200 && status <= 299;
    }

    clone() {
      const state = responseOf(this);
      return build({ ...state, headers: cloneHeaders(state.headers) }, peekBody(this));
    }

    get [Symbol.toStringTag]() {
      return 'Response';
    }
  }
  for (const name of ['type', 'url', 'redirected', 'status', 'statusText', 'headers']) {
    Object.defineProperty(Response.prototype, name, {
      get() {
        return responseOf(this)[name];
      },
      configurable: true,
    });
  }
  mixBody(Response);

  /**
   * What the host's fetch sends for `request`: its method, URL without the fragment, header
   * pairs in the order added, and body bytes (null for none), which this uses up.
   */
  const requestParts = request => {
    const { method, url, headers } = requestOf(request);
    const target = withoutFragment(new URL(url.href));
    return { method, url: target, headers: headerList(headers), body: takeBody(request) };
  };

  /**
   * The Response a fetch hands back (type "basic", immutable headers) from what the host got:
   * `headers` as [name, value] pairs, `body` the bytes (ignored for a null-body status), `url`
   * the last one fetched.
   */
  const makeResponse = ({ status, statusText = '', headers = [], body = null, ...rest }) => {
    const { url = '', redirected = false } = rest;
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw RangeError(`A fetched status must be in 100–599, not ${status}`);
    }
    const hasBody = body !== null && !NULL_BODY_STATUSES.includes(status);
    const fields = {
      type: 'basic',
      url: url === '' ? '' : withoutFragment(parseUrl(url, 'Response URL')),
      redirected: Boolean(redirected),
      status,
      statusText: `${statusText}`,
      headers: immutableHeaders(headers),
    };
    return build(fields, hasBody ? new Uint8Array(body) : null);
  };

  return harden({ Headers, Request, Response, requestParts, makeResponse });
};
