// State that survives restarts: values in baggage, a durable kind whose instances keep their
// identity, and a durable big map store, all through liveslots' VatData.
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

/* global VatData */

export function buildRootObject(vatPowers, parameters, baggage) {
  const { defineDurableKind, makeKindHandle, makeScalarBigMapStore } = VatData;
  const tlog = vatPowers.logger.subLogger({ tags: ['durable'] });

  if (!baggage.has('handle')) {
    baggage.init('handle', makeKindHandle('Tally'));
    baggage.init('starts', 0);
    baggage.init('ledger', makeScalarBigMapStore('ledger', { durable: true }));
  }
  const starts = baggage.get('starts') + 1;
  baggage.set('starts', starts);
  const ledger = baggage.get('ledger');
  tlog.info(`start ${starts}`);

  const makeTally = defineDurableKind(
    baggage.get('handle'),
    label => ({ label, count: 0 }),
    {
      add({ state }, amount) {
        state.count += amount;
        ledger.set(state.label, state.count);
        return state.count;
      },
      read: ({ state }) => `${state.label}=${state.count}`,
    },
  );

  return makeDefaultExo('root', {
    bootstrap() {
      return `started ${starts} times`;
    },
    starts: () => starts,
    makeTally(label) {
      const tally = makeTally(label);
      ledger.init(label, 0);
      if (!baggage.has('tallies')) {
        baggage.init('tallies', harden([]));
      }
      baggage.set('tallies', harden([...baggage.get('tallies'), tally]));
      return tally;
    },
    tallies: () => (baggage.has('tallies') ? baggage.get('tallies') : []),
    ledger: () => Object.fromEntries(ledger.entries()),
  });
}
