// Our stand-in for `@metamask/kernel-utils/exo` at the version ocap-kernel bundles into its vats
// (0.5.0, not published to npm): an exo whose methods take and return any passable.
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
