// ocapd's vat supervisor for the built-in QuickJS runtime (the counterpart of ocap-kernel's
// VatSupervisor). Evaluated after the SES shim and liveslots. It builds liveslots with a syscall
// object that calls the host (Rust) synchronously, loads the vat bundle into a Compartment, and
// exposes to the host: `init`, `deliver`, `wake`, `outcome` and `runImmediates`. The host drives
// promise jobs and immediates until quiescence after each call.

import { useTimers } from './abort.js';
import { makeConsole } from './console.js';
import { makeEndowments } from './endowments.js';
import { makeNetwork } from './fetch.js';
import { makeVatLogger } from './logger.js';
import { makePlatform } from './platform.js';
import { makeTimers } from './timers.js';

const host = globalThis.ocapHost;
const { makeLiveSlots, ocapPackages: packages, ocapStacks: stacks } = globalThis;
delete globalThis.ocapHost;
delete globalThis.makeLiveSlots;
delete globalThis.ocapPackages;
delete globalThis.ocapStacks;

const { stringify } = JSON;

// --- setImmediate, run by the host once no promise job is left (Node's order) ---------------

let immediates = [];

const setImmediate = (callback, ...args) => {
  immediates.push(() => callback(...args));
};

/** Runs the immediates queued so far; returns how many ran. */
const runImmediates = () => {
  const batch = immediates;
  immediates = [];
  for (const callback of batch) {
    callback();
  }
  return batch.length;
};

const waitUntilQuiescent = () => new Promise(resolve => setImmediate(resolve));

/** Full collection, with finalizers given a turn to run (liveslots' bringOutYourDead). */
const gcAndFinalize = async () => {
  await waitUntilQuiescent();
  host.gc();
  await waitUntilQuiescent();
  host.gc();
  await waitUntilQuiescent();
};

// --- FinalizationRegistry whose unregister token is held weakly -------------------------------
// QuickJS holds the token strongly; liveslots passes the registered object itself as token, so
// that object could never be collected. Register with a private token object instead, and map
// the caller's token to it through a WeakMap.

const NativeFinalizationRegistry = globalThis.FinalizationRegistry;

class WeakTokenFinalizationRegistry {
  #registry;
  #tokens = new WeakMap();

  constructor(cleanup) {
    this.#registry = new NativeFinalizationRegistry(cleanup);
  }

  register(target, held, token) {
    if (token === undefined) {
      this.#registry.register(target, held);
      return;
    }
    let inner = this.#tokens.get(token);
    if (inner === undefined) {
      inner = {};
      this.#tokens.set(token, inner);
    }
    this.#registry.register(target, held, inner);
  }

  unregister(token) {
    const inner = this.#tokens.get(token);
    if (inner === undefined) {
      return false;
    }
    this.#tokens.delete(token);
    return this.#registry.unregister(inner);
  }
}

// --- metering: none, but liveslots asserts about it -------------------------------------------

const makeMeterControl = () => {
  let disabled = 0;
  const runWithoutMetering = thunk => {
    disabled += 1;
    try {
      return thunk();
    } finally {
      disabled -= 1;
    }
  };
  return harden({
    isMeteringDisabled: () => disabled > 0,
    assertIsMetered: message => assert(disabled === 0, message),
    assertNotMetered: message => assert(disabled > 0, message),
    runWithoutMetering,
    runWithoutMeteringAsync: async thunk => {
      disabled += 1;
      return Promise.resolve()
        .then(() => thunk())
        .finally(() => {
          disabled -= 1;
        });
    },
    unmetered:
      thunk =>
      (...args) =>
        runWithoutMetering(() => thunk(...args)),
  });
};

// --- syscalls ---------------------------------------------------------------------------------

const kernelSyscall = (...vso) => {
  host.syscall(stringify(vso));
};

const syscall = harden({
  send: (target, methargs, result) =>
    kernelSyscall('send', target, { methargs, result }),
  subscribe: vpid => kernelSyscall('subscribe', vpid),
  resolve: resolutions => kernelSyscall('resolve', resolutions),
  exit: (isFailure, info) => kernelSyscall('exit', isFailure, info),
  dropImports: vrefs => kernelSyscall('dropImports', vrefs),
  retireImports: vrefs => kernelSyscall('retireImports', vrefs),
  retireExports: vrefs => kernelSyscall('retireExports', vrefs),
  abandonExports: vrefs => kernelSyscall('abandonExports', vrefs),
  callNow: () => {
    throw Error('callNow not supported (we have no devices)');
  },
  vatstoreGet: key => host.vatstoreGet(key),
  vatstoreGetNextKey: priorKey => host.vatstoreGetNextKey(priorKey),
  vatstoreSet: (key, value) => {
    host.vatstoreSet(key, value);
  },
  vatstoreDelete: key => {
    host.vatstoreDelete(key);
  },
});

// --- endowments (spec §3.2) -------------------------------------------------------------------

const errorText = error =>
  error instanceof Error ? error.message : String(error);

const timers = makeTimers(host);
useTimers(timers.globals.setTimeout);

const network = makeNetwork(host);

/**
 * `fetch` for the vat `config` describes, over the Fetch classes. A vat that asks for `fetch`
 * without `network.allowedHosts` never gets here: the host refuses it first (src/vat/http.rs).
 */
const fetchFor = config => classes => network.makeFetch(config.network.allowedHosts, classes);

/**
 * The globals a vat config asks for; throws for any we lack (the RPC's config validation
 * refuses names outside spec §3.2's list, all of which are here).
 */
const requestedGlobals = (vatId, config) => {
  const available = makeEndowments(host, timers.globals, fetchFor(config));
  const endowments = {};
  for (const name of config.globals ?? []) {
    if (!Object.hasOwn(available, name)) {
      throw Error(`Vat "${vatId}" requested unknown global "${name}"`);
    }
    endowments[name] = available[name];
  }
  return endowments;
};

// --- what every vat gets -------------------------------------------------------------------

/**
 * `Float16Array`, `Float32Array` and `Float64Array`, those of them the engine has. SES 2 keeps
 * them off new compartments' globals (the bits of their NaNs are a side channel) and says they
 * may be endowed; SES 1, which the reference runs, puts them on every compartment, and
 * `@endo/marshal` 1.8 (in every reference-built vat that bundles `@endo/exo` or
 * `@endo/patterns`) makes a `Float64Array` as it loads.
 */
const floatArrays = harden(
  Object.fromEntries(
    ['Float16Array', 'Float32Array', 'Float64Array']
      .filter(name => typeof globalThis[name] === 'function')
      .map(name => [name, globalThis[name]]),
  ),
);

/** The vat's `console`, and liveslots' own, logged apart by the host. */
const vatConsole = harden(makeConsole(host, 'console'));
const liveslotsConsole = harden(makeConsole(host, 'liveslots'));

// --- packages for vat sources (src/vatsource) -------------------------------------------------

/**
 * The namespace of package `name`, which must export each of `names`: what a converted vat
 * source's `import` declarations call. Like a module linker, it fails on a missing export.
 */
const requirePackage = harden((name, names = []) => {
  if (!Object.hasOwn(packages, name)) {
    throw Error(`the vat imports "${name}", which ocapd does not provide`);
  }
  const namespace = packages[name];
  for (const imported of names) {
    if (!Object.hasOwn(namespace, imported)) {
      throw SyntaxError(
        `The requested module '${name}' does not provide an export named '${imported}'`,
      );
    }
  }
  return namespace;
});

// --- the vat ----------------------------------------------------------------------------------

let dispatch;
let vatName = 'the vat';
let current = { done: true, error: null };

/**
 * Starts `dispatch(delivery)`; its settlement lands in `current`, read by `outcome`. The
 * delivery, fresh from JSON.parse, is not hardened: only liveslots reads it (vat code gets what
 * marshal revives from its capdata, hardened there), and harden walking it cost 3 % of a
 * queueMessage and 6 % of a vat-to-vat delivery.
 */
const start = delivery => {
  const record = { done: false, error: null };
  current = record;
  Promise.resolve()
    .then(() => dispatch(delivery))
    .then(
      () => {
        record.done = true;
      },
      error => {
        record.done = true;
        record.error = errorText(error);
        // Only the message goes back to the kernel; the log gets the stack too, with the
        // reference supervisor's words.
        try {
          console.error(`Delivery error in vat ${vatName}:`, error);
        } catch {
          // Out of memory, say: the outcome above is what matters.
        }
      },
    );
};

/**
 * Builds liveslots for `vatId` over the vat bundle's `code` and starts the vat with
 * `vatParameters` (CapData JSON). `config` is the vat's VatConfig.
 */
const init = (vatId, configJson, code, vatParametersJson) => {
  vatName = vatId;
  const config = JSON.parse(configJson);
  const globals = { ...requestedGlobals(vatId, config), ...makePlatform(host, config) };
  const wrapper = '(function(require){';
  stacks.setVatCode(config.bundleSpec ?? config.sourceSpec ?? '<vat>', wrapper.length);
  const buildVatNamespace = async (lsEndowments, inescapableGlobalProperties) => {
    const compartment = new Compartment({
      __options__: true,
      globals: {
        ...floatArrays,
        ...globals,
        console: vatConsole,
        assert,
        harden,
        ...lsEndowments,
        exports: {},
      },
    });
    Object.defineProperties(
      compartment.globalThis,
      Object.getOwnPropertyDescriptors(inescapableGlobalProperties),
    );
    compartment.globalThis.global = compartment.globalThis;
    const run = compartment.evaluate(`${wrapper}${code};return __vatExports__;})`);
    return run(requirePackage);
  };
  const gcTools = harden({
    WeakRef,
    FinalizationRegistry: WeakTokenFinalizationRegistry,
    waitUntilQuiescent,
    gcAndFinalize,
    meterControl: makeMeterControl(),
  });
  ({ dispatch } = makeLiveSlots(
    syscall,
    vatId,
    { logger: makeVatLogger(host) },
    {},
    gcTools,
    liveslotsConsole,
    buildVatNamespace,
  ));
  start(['startVat', JSON.parse(vatParametersJson)]);
};

/** Starts one delivery (the JSON tuple of spec §7.3). */
const deliver = deliveryJson => start(JSON.parse(deliveryJson));

/**
 * Does what woke the vat, as one delivery: runs the handlers of the timers `due` and settles
 * the requests that finished (`outcomesJson`, `bodies`: see fetch.js), then lets liveslots
 * finish a delivery that carries nothing (`notify` of no resolutions), so that it flushes its
 * caches of virtual and durable state as after any delivery.
 */
const wake = (due, outcomesJson, bodies) => {
  timers.fire(due);
  network.settle(outcomesJson, bodies);
  start(['notify', []]);
};

/** The last init or delivery: null when it finished well, else why not. */
const outcome = () => {
  if (!current.done) {
    return 'the delivery never finished (the vat is waiting for something that cannot happen)';
  }
  return current.error;
};

globalThis.ocapSupervisor = harden({ init, deliver, wake, outcome, runImmediates });
