// Our equivalents of the reference's `makeDefaultInterface` and `makeDefaultExo`
// (@metamask/kernel-utils, `exo`), for vat sources that import them: an exo whose methods take
// and return any passable.
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

/** An interface guard named `name` whose methods all default to 'passable'. */
export const makeDefaultInterface = name =>
  M.interface(name, {}, { defaultGuards: 'passable' });

/** An exo named `name` with `methods`, guarded by `interfaceGuard` (by default, passable). */
export const makeDefaultExo = (
  name,
  methods,
  interfaceGuard = makeDefaultInterface(name),
) => makeExo(name, interfaceGuard, methods);
