// The ping side of a two-vat example: vat-to-vat eventual sends, awaited one after another
// (`rally`), and promise pipelining (`pipeline`: a message sent to the promise for an object
// before that object exists). The pong presence is kept in baggage, so the pair still talks after
// a daemon restart. Bundled by the build into ping.bundle.
import { E } from '@endo/eventual-send';
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

export function buildRootObject(_vatPowers, _parameters, baggage) {
  let pong = baggage.has('pong') ? baggage.get('pong') : undefined;
  return makeDefaultExo('ping', {
    bootstrap(vats) {
      pong = vats.pong;
      baggage.init('pong', pong);
      return 'ping-pong ready';
    },
    async rally(rounds) {
      let last = 'no rounds';
      for (let i = 1; i <= rounds; i += 1) {
        last = await E(pong).ping(i);
      }
      return last;
    },
    pipeline() {
      const counter = E(pong).makeCounter();
      E(counter).increment();
      return E(counter).increment();
    },
  });
}
