// A counter vat in the reference style (spec §3.2): its count lives in baggage, so it survives
// a daemon restart. Bundled by the build into counter.bundle ({"moduleFormat":"iife",…}).
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

// The reference's `makeDefaultExo` (@metamask/kernel-utils/exo): an exo whose methods accept
// and return any passable.
const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

export function buildRootObject(_vatPowers, _parameters, baggage) {
  let count;
  if (baggage.has('count')) {
    count = baggage.get('count');
  } else {
    count = 1;
    baggage.init('count', count);
  }
  return makeDefaultExo('counter', {
    bootstrap(_vats, _services) {
      return `Counter initialized with count: ${count}`;
    },
    resume() {
      count += 1;
      baggage.set('count', count);
      return `Counter incremented to: ${count}`;
    },
  });
}
