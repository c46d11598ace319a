// AbortController and AbortSignal (DOM Standard §3.1–3.2) for vats that ask for them, with the
// small Event and EventTarget they need; QuickJS has none of these. `AbortSignal.timeout` runs on
// the vat's own timers (timers.js), given by the supervisor through `useTimers`.

import { domException } from './errors.js';

const abortError = () => domException('AbortError', 'This operation was aborted');

class Event {
  #type;
  #cancelable;
  #defaultPrevented = false;
  target = null;
  currentTarget = null;

  constructor(type, options = {}) {
    this.#type = String(type);
    this.#cancelable = Boolean(options.cancelable);
  }

  get type() {
    return this.#type;
  }

  get cancelable() {
    return this.#cancelable;
  }

  get defaultPrevented() {
    return this.#defaultPrevented;
  }

  get isTrusted() {
    return false;
  }

  preventDefault() {
    if (this.#cancelable) {
      this.#defaultPrevented = true;
    }
  }
}

class EventTarget {
  #listeners = new Map();

  addEventListener(type, callback, options = {}) {
    if (callback === null || callback === undefined) {
      return;
    }
    const once = typeof options === 'object' && Boolean(options.once);
    const listeners = this.#listeners.get(type) ?? [];
    if (!listeners.some(l => l.callback === callback)) {
      listeners.push({ callback, once, removed: false });
      this.#listeners.set(type, listeners);
    }
  }

  removeEventListener(type, callback) {
    const listeners = this.#listeners.get(type) ?? [];
    const index = listeners.findIndex(l => l.callback === callback);
    if (index >= 0) {
      listeners[index].removed = true;
      listeners.splice(index, 1);
    }
  }

  dispatchEvent(event) {
    if (!(event instanceof Event)) {
      throw TypeError('dispatchEvent needs an Event');
    }
    event.target = this;
    event.currentTarget = this;
    for (const listener of [...(this.#listeners.get(event.type) ?? [])]) {
      if (listener.removed) {
        continue;
      }
      if (listener.once) {
        this.removeEventListener(event.type, listener.callback);
      }
      const { callback } = listener;
      try {
        if (typeof callback === 'function') {
          callback.call(this, event);
        } else {
          callback.handleEvent(event);
        }
      } catch (error) {
        // A listener's error does not stop the others (the DOM reports it).
        console.error('an event listener threw:', error);
      }
    }
    event.currentTarget = null;
    return !event.defaultPrevented;
  }
}

/** Lets AbortController and the static methods make signals; `new AbortSignal()` throws. */
const timeoutError = () => {
  const error = Error('The operation was aborted due to timeout');
  return Object.defineProperty(error, 'name', { value: 'TimeoutError' });
};

let making = false;
const signalState = new WeakMap();

/** The vat's `setTimeout`, for `AbortSignal.timeout`. */
let setTimer;

/** Gives `AbortSignal.timeout` the vat's `setTimeout`. */
export const useTimers = setTimeout => {
  setTimer = setTimeout;
};

class AbortSignal extends EventTarget {
  #onabort = null;
  #handlerAdded = false;

  constructor() {
    if (!making) {
      throw TypeError('Illegal constructor: use an AbortController or AbortSignal.abort()');
    }
    super();
    signalState.set(this, { aborted: false, reason: undefined, dependents: [] });
  }

  get aborted() {
    return signalState.get(this).aborted;
  }

  get onabort() {
    return this.#onabort;
  }

  /** An event handler: a listener from the first time one is set, calling the current one. */
  set onabort(handler) {
    this.#onabort = typeof handler === 'function' ? handler : null;
    if (this.#onabort && !this.#handlerAdded) {
      this.#handlerAdded = true;
      this.addEventListener('abort', event => this.#onabort?.call(this, event));
    }
  }

  get reason() {
    return signalState.get(this).reason;
  }

  throwIfAborted() {
    if (this.aborted) {
      throw this.reason;
    }
  }

  static abort(reason = abortError()) {
    const signal = makeSignal();
    signalAbort(signal, reason);
    return signal;
  }

  static timeout(ms) {
    const delay = Number(ms);
    if (!(delay >= 0 && delay <= Number.MAX_SAFE_INTEGER)) {
      throw TypeError(`AbortSignal.timeout needs a delay in milliseconds, not ${ms}`);
    }
    const signal = makeSignal();
    setTimer(() => signalAbort(signal, timeoutError()), delay);
    return signal;
  }

  static any(signals) {
    const signal = makeSignal();
    const sources = [...signals];
    const already = sources.find(s => s.aborted);
    if (already) {
      signalAbort(signal, already.reason);
    } else {
      for (const source of sources) {
        signalState.get(source).dependents.push(signal);
      }
    }
    return signal;
  }
}

const makeSignal = () => {
  making = true;
  try {
    return new AbortSignal();
  } finally {
    making = false;
  }
};

const signalAbort = (signal, reason) => {
  const state = signalState.get(signal);
  if (state.aborted) {
    return;
  }
  state.aborted = true;
  state.reason = reason;
  const dependents = state.dependents;
  state.dependents = [];
  signal.dispatchEvent(new Event('abort'));
  for (const dependent of dependents) {
    signalAbort(dependent, reason);
  }
};

class AbortController {
  #signal = makeSignal();

  get signal() {
    return this.#signal;
  }

  abort(reason = abortError()) {
    signalAbort(this.#signal, reason);
  }
}

export { AbortController, AbortSignal };
