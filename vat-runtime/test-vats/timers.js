// A vat for the timer tests: each method sets timers (the `setTimeout`, `setInterval` and clear
// endowments, when its config asks for them) and answers once they have fired.
import { Far } from '@endo/far';

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

const errorName = thunk => {
  try {
    thunk();
    return 'no error';
  } catch (error) {
    return error.name;
  }
};

export function buildRootObject() {
  // A virtual object: liveslots caches its state and writes it to the vatstore only when a
  // delivery ends, so a timer handler's change shows only if its crank ends like a delivery.
  const makeTally = VatData.defineKind('Tally', () => ({ count: 0 }), {
    add: ({ state }) => {
      state.count += 1;
      return state.count;
    },
  });
  const tally = makeTally();
  let woken = 0;

  return Far('root', {
    bootstrap() {
      return 'ready';
    },
    async later(ms, label) {
      await sleep(ms);
      return `${label} after ${ms} ms`;
    },
    tallyLater(ms) {
      setTimeout(() => tally.add(), ms);
    },
    tally() {
      return tally.add() - 1;
    },
    ticks(ms, times) {
      return new Promise(resolve => {
        let count = 0;
        const handle = setInterval(() => {
          count += 1;
          if (count === times) {
            clearInterval(handle);
            resolve(count);
          }
        }, ms);
      });
    },
    cancelled(ms) {
      const handle = setTimeout(() => {
        woken += 1;
      }, ms);
      clearTimeout(handle);
      clearTimeout(undefined);
      clearTimeout({});
      return 'cancelled';
    },
    woken() {
      return woken;
    },
    throwing(ms) {
      setTimeout(() => {
        throw Error('boom');
      }, ms);
      return sleep(ms + 1).then(() => 'the next timer still ran');
    },
    busy(ms) {
      // An interval that is always due and keeps its vat busy ms at a time, forever.
      setInterval(() => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // burn
        }
      }, 0);
      return 'busy';
    },
    spinLater(ms) {
      setTimeout(() => {
        for (;;) {
          // spin
        }
      }, ms);
    },
    timeoutSignal(ms) {
      const signal = AbortSignal.timeout(ms);
      return new Promise(resolve => {
        signal.addEventListener('abort', () => resolve([signal.aborted, signal.reason.name]));
      });
    },
    refused() {
      return [
        errorName(() => setTimeout('woken += 1', 1)),
        typeof setTimeout(() => {}, 1),
        Object.isFrozen(setTimeout(() => {}, 2 ** 40)),
      ];
    },
  });
}
