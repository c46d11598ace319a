// Promises whose resolutions name each other (p1 -> [p2], p2 -> [p1]), resolved in one crank:
// liveslots sends both resolutions in one `resolve` syscall (cf. ocap-kernel's kernel-test
// promise-cycle-vat). `bootstrap` asks the other vat for two promises and has them resolved to
// each other, in one delivery (`resolveBoth`) or in two (`resolveApart`), per `parameters.test`.
import { E } from '@endo/eventual-send';
import { makePromiseKit } from '@endo/promise-kit';
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

const isPromise = value => Promise.resolve(value) === value;

export function buildRootObject(vatPowers, parameters) {
  const test = parameters?.test ?? 'oneBatch';
  let first;
  let second;
  return makeDefaultExo('root', {
    async bootstrap({ bob }) {
      const x = E(bob).makeFirst();
      const y = E(bob).makeSecond();
      if (test === 'oneBatch') {
        await E(bob).resolveBoth([x], [y]);
      } else {
        await E(bob).resolveFirst([y]);
        await E(bob).resolveSecond([x]);
      }
      const [toY] = await x;
      const [toX] = await y;
      return [isPromise(toY), isPromise(toX)];
    },
    makeFirst() {
      first = makePromiseKit();
      return first.promise;
    },
    makeSecond() {
      second = makePromiseKit();
      return second.promise;
    },
    resolveBoth(toFirst, toSecond) {
      first.resolve(toSecond);
      second.resolve(toFirst);
    },
    resolveFirst(value) {
      first.resolve(value);
    },
    resolveSecond(value) {
      second.resolve(value);
    },
  });
}
