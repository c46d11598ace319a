// First script in every vat's QuickJS context, before SES: a `console` that hands each line to
// the host (Rust logs it with the vat id). QuickJS has no console of its own, and SES reports
// through it while locking down.
const host = globalThis.ocapHost;

const show = value => {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Error) {
    return `${value.name}: ${value.message}`;
  }
  try {
    const text = JSON.stringify(value, (_key, v) =>
      typeof v === 'bigint' ? `${v}n` : v,
    );
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
};

const line = level => (...args) => host.log(level, args.map(show).join(' '));

globalThis.console = {
  debug: line('debug'),
  log: line('info'),
  info: line('info'),
  warn: line('warn'),
  error: line('error'),
  trace: line('debug'),
};

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
