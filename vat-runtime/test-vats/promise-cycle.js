// Promises whose resolutions name each other (p1 -> [p2], p2 -> [p1]). With `test: 'oneBatch'`
// (the default) the other vat (`bob`) resolves both in one delivery, so liveslots sends both
// resolutions in one `resolve` syscall; with `test: 'apart'`, in two deliveries. `bootstrap`
// answers whether each resolution holds a promise (it does: [true, true]).
import { E } from '@endo/eventual-send';
import { Far } from '@endo/far';

const isPromise = value => Promise.resolve(value) === value;

const makeKit = () => {
  let resolve;
  const promise = new Promise(r => {
    resolve = r;
  });
  return { promise, resolve };
};

export function buildRootObject(_vatPowers, parameters) {
  const test = parameters?.test ?? 'oneBatch';
  let first;
  let second;
  return Far('root', {
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
      first = makeKit();
      return first.promise;
    },
    makeSecond() {
      second = makeKit();
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
