// The SES shim as ocap-kernel vats get it (@metamask/kernel-shims `endoify`): SES, then the
// eventual-send shim (HandledPromise), then lockdown with kernel-shims' production options.
// Built from `ses` itself rather than kernel-shims' prebuilt file so that the SES version is the
// one our lockfile pins.
import 'ses';
import '@endo/eventual-send/shim.js';

lockdown({
  consoleTaming: 'unsafe',
  errorTaming: 'unsafe',
  overrideTaming: 'severe',
  domainTaming: 'unsafe',
  stackFiltering: 'concise',
});
