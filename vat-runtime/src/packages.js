// The packages a plain ES-module vat source may import (src/vatsource/mod.rs PACKAGES lists the
// same names), as frozen module namespaces. The supervisor hands them to the vat bundle's code
// through `require(name, importedNames)`. Bundled with liveslots, so both share one copy of
// each @endo package.
import * as eventualSend from '@endo/eventual-send';
import * as exo from '@endo/exo';
import * as far from '@endo/far';
import * as marshal from '@endo/marshal';
import * as patterns from '@endo/patterns';
import * as kernelUtils from './kernel-utils.js';

const namespace = module => harden({ __proto__: null, ...module });

export const packages = harden({
  __proto__: null,
  '@endo/eventual-send': namespace(eventualSend),
  '@endo/exo': namespace(exo),
  '@endo/far': namespace(far),
  '@endo/marshal': namespace(marshal),
  '@endo/patterns': namespace(patterns),
  '@metamask/kernel-utils': namespace(kernelUtils),
  '@metamask/kernel-utils/exo': namespace(kernelUtils),
});
