// A vat for the runtime's tests: spec §7.7 shapes (errors, new objects, eventual sends) and the
// budget limits (loops, allocation, recursion), and imports to drop for GC.
import { E, Far } from '@endo/far';

export function buildRootObject(_vatPowers, parameters) {
  let held = [];
  return Far('root', {
    hello() {
      return `hello ${parameters.name}`;
    },
    boom() {
      throw Error('boom');
    },
    makeThing() {
      return Far('Thing', {});
    },
    async callOther(other) {
      return E(other).ping('x');
    },
    log(text) {
      console.log(text);
    },
    hold(presence) {
      held.push(presence);
    },
    drop() {
      held = [];
    },
    busy(ms) {
      // Needs the Date endowment (globals: ["Date"]).
      const end = Date.now() + ms;
      let rounds = 0;
      while (Date.now() < end) {
        rounds += 1;
      }
      return rounds > 0;
    },
    spin() {
      for (;;) {
        // burn the budget
      }
    },
    spinInJob() {
      Promise.resolve().then(() => {
        for (;;) {
          // burn the budget inside a promise job
        }
      });
    },
    hog() {
      const chunks = [];
      for (;;) {
        chunks.push(new Array(100000).fill(chunks.length));
      }
    },
    forgedOutOfMemory() {
      // The words of QuickJS's out-of-memory error, from a vat that has plenty.
      throw Error('out of memory');
    },
    native() {
      // One native call that no interrupt handler can stop: QuickJS's naive substring search
      // (about a minute).
      return 'a'.repeat(4e5).indexOf(`${'a'.repeat(2e5)}b`);
    },
    recurse() {
      const down = n => down(n + 1) + 1;
      return down(0);
    },
  });
}
