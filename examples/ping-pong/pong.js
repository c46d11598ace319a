// The pong side of the ping-pong example: answers pings and makes counters on request.
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

export function buildRootObject() {
  return makeDefaultExo('pong', {
    ping(round) {
      return `pong ${round}`;
    },
    makeCounter() {
      let count = 0;
      return makeDefaultExo('counter', {
        increment() {
          count += 1;
          return count;
        },
      });
    },
  });
}
