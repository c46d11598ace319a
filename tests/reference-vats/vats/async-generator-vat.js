// Async generators across vats: a producer vat exposes an async generator as a remotable whose
// `next()` each consumer calls eventually, and a consumer iterates it with `for await`.
import { E } from '@endo/eventual-send';
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

/** A remotable over `generator`: each `next()` is one step of it. */
const makeRemoteIterator = generator =>
  makeDefaultExo('remote iterator', {
    next: () => generator.next(),
    return: value => generator.return(value),
  });

/** An async iterable over a remote iterator, for `for await`. */
const eventually = remote => ({
  [Symbol.asyncIterator]: () => ({
    next: () => E(remote).next(),
    return: value => E(remote).return(value),
  }),
});

export function buildRootObject(vatPowers, parameters) {
  const name = parameters?.name ?? 'generator';
  const tlog = vatPowers.logger.subLogger({ tags: ['test', name] });
  return makeDefaultExo('root', {
    async bootstrap({ consumer, producer }) {
      return E(consumer).iterate(producer, 5);
    },
    generate(stop) {
      async function* count() {
        for (let i = 0; i < stop; i += 1) {
          tlog.log(`${name} generating ${i}`);
          yield i * i;
        }
      }
      return makeRemoteIterator(count());
    },
    async iterate(producer, stop) {
      const seen = [];
      for await (const value of eventually(await E(producer).generate(stop))) {
        tlog.log(`${name} iterating ${value}`);
        seen.push(value);
      }
      return seen;
    },
  });
}
