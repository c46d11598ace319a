// Promise pipelining between two vats: messages sent to the promise of a result before it
// settles, resolved in order by the vat that decides it.
import { E } from '@endo/eventual-send';
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

export function buildRootObject(vatPowers, parameters) {
  const role = parameters?.role ?? 'maker';
  if (role === 'maker') {
    let made = 0;
    return makeDefaultExo('maker', {
      makeCounter(start) {
        made += 1;
        let value = start;
        return makeDefaultExo(`counter ${made}`, {
          increment(by) {
            value += by;
            return value;
          },
          twin() {
            return makeDefaultExo('twin', { value: () => value });
          },
        });
      },
      made: () => made,
    });
  }
  return makeDefaultExo('driver', {
    async bootstrap(vats) {
      // Each send goes out before the one it builds on has been answered.
      const counter = E(vats.maker).makeCounter(10);
      const first = E(counter).increment(5);
      const second = E(counter).increment(7);
      const twinValue = E(E(counter).twin()).value();
      const made = await E(vats.maker).made();
      return [await first, await second, await twinValue, made];
    },
  });
}
