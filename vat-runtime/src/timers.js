// setTimeout, setInterval and their clears for vats (spec §3.2), shaped like the reference's
// attenuated timers (from MetaMask Snaps): the handler must be a function and is hardened, extra
// arguments are not passed on, and the handle is an opaque frozen object that only this vat's
// clear functions recognise. Delays follow Node: anything but 1 to 2^31-1 ms means 1 ms.
//
// The host keeps the due times and asks the kernel to wake the vat when the first comes due; the
// handlers then run in a crank of their own (`fire`, called by the supervisor's `wake`), never
// inside another delivery, so what they do is committed or rolled back like any delivery.

const MAX_DELAY = 2 ** 31 - 1;

const delayOf = delay => {
  const ms = Math.trunc(Number(delay));
  return ms >= 1 && ms <= MAX_DELAY ? ms : 1;
};

/** A vat's timers over `host` (`timerArm(id, ms)`, `timerClear(id)`). */
export const makeTimers = host => {
  /** Live timers by id: the handler, and the period of an interval (0 for a timeout). */
  const live = new Map();
  const idOf = new WeakMap();
  let lastId = 0;

  const start = (handler, delay, repeat) => {
    if (typeof handler !== 'function') {
      throw TypeError(`The timeout handler must be a function. Received: ${typeof handler}.`);
    }
    harden(handler);
    const ms = delayOf(delay);
    lastId += 1;
    // Throws when the vat already has as many timers as the host allows.
    host.timerArm(lastId, ms);
    live.set(lastId, { handler, period: repeat ? ms : 0 });
    const handle = Object.freeze({ __proto__: null });
    idOf.set(handle, lastId);
    return handle;
  };

  const clear = handle => {
    const id = idOf.get(handle);
    if (id !== undefined && live.delete(id)) {
      host.timerClear(id);
    }
  };

  /**
   * Runs the handlers of the timers that came due (ids, in due order). An interval is armed
   * again before its handler runs, so that the handler may clear it. A handler that throws is
   * reported in the log, as a browser or Node would, and the others still run.
   */
  const fire = due => {
    for (const id of due) {
      const timer = live.get(id);
      if (timer === undefined) {
        continue;
      }
      if (timer.period) {
        host.timerArm(id, timer.period);
      } else {
        live.delete(id);
      }
      try {
        timer.handler();
      } catch (error) {
        console.error('Uncaught exception in a timer handler:', error);
      }
    }
  };

  const globals = harden({
    setTimeout: (handler, delay) => start(handler, delay, false),
    clearTimeout: clear,
    setInterval: (handler, delay) => start(handler, delay, true),
    clearInterval: clear,
  });
  return { globals, fire };
};
