// A vat whose two result promises come to name each other, settled in one turn: liveslots then
// resolves both in one `resolve` syscall, each value naming the other promise (spec §7.4).
import { Far } from '@endo/far';

export function buildRootObject() {
  let resolveFirst;
  let resolveSecond;
  const first = new Promise(resolve => {
    resolveFirst = resolve;
  });
  const second = new Promise(resolve => {
    resolveSecond = resolve;
  });
  return Far('root', {
    first() {
      return first;
    },
    second() {
      return second;
    },
    tie() {
      resolveFirst({ other: second });
      resolveSecond({ other: first });
      return 'tied';
    },
    hello() {
      return 'still here';
    },
  });
}
