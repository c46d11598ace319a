// First script in every vat's QuickJS context, before SES: a `console` that hands each line to
// the host (Rust logs it with the vat id), stack frames V8 programs can read, V8's wording for
// the commonest TypeErrors, and SES's `harden` done natively. QuickJS has no console of its own,
// and SES reports through it while locking down.
import { makeConsole } from './console.js';

const host = globalThis.ocapHost;

globalThis.console = makeConsole(host, 'runtime');

// --- stack traces ---------------------------------------------------------------------------
// QuickJS-ng has V8's stack-trace API (`Error.prepareStackTrace` receives CallSite objects),
// so SES tames it as V8's and writes each frame as `${callSite}`; but QuickJS-ng's CallSites
// have no `toString`, which made every frame `at [object CallSite]`. Their prototype (reachable
// only here, before SES, and frozen below) gets V8's format: `fn (file:line:column)`. The vat's
// code is evaluated by SES (a direct eval, which QuickJS names `<input>`): its frames are given
// the vat's bundleSpec as file name, and the column of its first line loses the length of the
// wrapper the supervisor puts before the code (`setVatCode`).
//
// `Error.prepareStackTrace` is also where every error passes as it is made (QuickJS calls it
// from the throw, with the message already set): the one installed here rewords QuickJS's
// messages V8 words otherwise and whose V8 wording the message alone determines, then hands
// the error to whatever prepareStackTrace SES installs (kept in `prepare`).

let vatCodeName = '<input>';
let vatCodePrefix = 0;

/** The vat code's name and the length of the wrapper before its first line (supervisor). */
const setVatCode = (name, prefix) => {
  vatCodeName = name;
  vatCodePrefix = prefix;
};

const nativePrepare = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
const callSitePrototype = (() => {
  nativePrepare.set.call(Error, (_error, callSites) => callSites);
  const callSites = Error('probe').stack;
  nativePrepare.set.call(Error, undefined);
  return Object.getPrototypeOf(callSites[0]);
})();
{
  const { getFileName, getColumnNumber, getLineNumber, getFunctionName, isNative, isConstructor } =
    callSitePrototype;
  const isVatCode = callSite => Reflect.apply(getFileName, callSite, []) === '<input>';
  Object.defineProperties(callSitePrototype, {
    getFileName: {
      value() {
        return isVatCode(this) ? vatCodeName : Reflect.apply(getFileName, this, []);
      },
    },
    getColumnNumber: {
      value() {
        const column = Reflect.apply(getColumnNumber, this, []);
        return isVatCode(this) && Reflect.apply(getLineNumber, this, []) === 1 && column > vatCodePrefix
          ? column - vatCodePrefix
          : column;
      },
    },
    toString: {
      value() {
        const name = Reflect.apply(getFunctionName, this, []);
        let where = 'native';
        if (!Reflect.apply(isNative, this, [])) {
          const line = this.getLineNumber();
          where = this.getFileName() ?? '<anonymous>';
          if (line !== null) {
            where += `:${line}:${this.getColumnNumber()}`;
          }
        }
        if (Reflect.apply(isConstructor, this, [])) {
          return `new ${name ?? '<anonymous>'} (${where})`;
        }
        return name ? `${name} (${where})` : where;
      },
    },
  });
  Object.freeze(callSitePrototype);
}

/**
 * V8's message for an error QuickJS words `message`, where the message alone says what V8
 * would (`cannot read property 'z' of undefined` is V8's `Cannot read properties of undefined
 * (reading 'z')`); `undefined` otherwise. QuickJS's "not a function" and "not a constructor"
 * name no expression, so V8's `x.y is not a function` cannot be made from them.
 */
const v8Message = message => {
  const read = /^cannot (read|set) property '(.*)' of (undefined|null)$/s.exec(message);
  if (read) {
    const [, verb, key, value] = read;
    const doing = verb === 'read' ? 'reading' : 'setting';
    return `Cannot ${verb} properties of ${value} (${doing} '${key}')`;
  }
  return undefined;
};

{
  let prepare;
  const { hasOwn } = Object;
  nativePrepare.set.call(Error, (error, callSites) => {
    try {
      if (error instanceof TypeError && hasOwn(error, 'message')) {
        const reworded = v8Message(error.message);
        if (reworded !== undefined) {
          error.message = reworded;
        }
      }
    } catch {
      // Never let the rewording stand in the way of the error.
    }
    if (typeof prepare === 'function') {
      return prepare(error, callSites);
    }
    return `${error}${callSites.map(site => `\n    at ${site}`).join('')}`;
  });
  // SES installs its own prepareStackTrace by assigning it here; QuickJS keeps calling ours.
  Object.defineProperty(Error, 'prepareStackTrace', {
    get: () => prepare,
    set: fn => {
      prepare = fn;
    },
    enumerable: false,
    configurable: true,
  });
}

globalThis.ocapStacks = { setVatCode };

// --- harden ---------------------------------------------------------------------------------
// SES's `harden`, done natively (src/vat/quickjs/harden.rs): SES takes a `harden` it finds
// before it loads, as it does XS's. The set of hardened objects is a WeakSet kept here, with its
// methods taken before anything could replace them (the set itself is reachable only from here,
// and once SES has locked down, WeakSet.prototype is frozen).
{
  const hardenNatively = host.harden;
  const hardened = new WeakSet();
  const { has, add } = WeakSet.prototype;
  globalThis.harden = {
    harden(root) {
      // Primitives and what is hardened already (most calls) need no trip into Rust.
      if (root === null || (typeof root !== 'object' && typeof root !== 'function')) {
        return root;
      }
      if (hardened.has(root)) {
        return root;
      }
      return hardenNatively(root, hardened, has, add);
    },
  }.harden;
}
