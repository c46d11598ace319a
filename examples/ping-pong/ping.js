// The ping side of a two-vat example: vat-to-vat eventual sends, awaited one after another
// (`rally`), all at once (`burst`), to every peer (`fanout`), and promise pipelining
// (`pipeline`: a message sent to the promise for an object before that object exists). Its
// peers are the subcluster's vats named `pong…`, kept in baggage so that the vats still talk
// after a daemon restart. Bundled by the build into ping.bundle.
import { E } from '@endo/eventual-send';
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

export function buildRootObject(_vatPowers, _parameters, baggage) {
  let peers = baggage.has('peers') ? baggage.get('peers') : [];
  let pong = peers[0];
  return makeDefaultExo('ping', {
    bootstrap(vats) {
      peers = harden(
        Object.keys(vats)
          .filter(name => name.startsWith('pong'))
          .sort()
          .map(name => vats[name]),
      );
      baggage.init('peers', peers);
      pong = peers[0];
      return 'ping-pong ready';
    },
    async rally(rounds) {
      let last = 'no rounds';
      for (let i = 1; i <= rounds; i += 1) {
        last = await E(pong).ping(i);
      }
      return last;
    },
    async burst(count) {
      const pings = [];
      for (let i = 1; i <= count; i += 1) {
        pings.push(E(pong).ping(i));
      }
      const answers = await Promise.all(pings);
      return answers.length;
    },
    async fanout(rounds) {
      for (let i = 1; i <= rounds; i += 1) {
        await Promise.all(peers.map(peer => E(peer).ping(i)));
      }
      return rounds * peers.length;
    },
    pipeline() {
      const counter = E(pong).makeCounter();
      E(counter).increment();
      return E(counter).increment();
    },
  });
}
