// The ping side of a two-vat example: vat-to-vat eventual sends, awaited one after another
// (`rally`), and promise pipelining (`pipeline`: a message sent to the promise for an object
// before that object exists). Bundled by the build into ping.bundle.
import { E } from '@endo/eventual-send';
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

export function buildRootObject() {
  let pong;
  return makeDefaultExo('ping', {
    bootstrap(vats) {
      pong = vats.pong;
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
