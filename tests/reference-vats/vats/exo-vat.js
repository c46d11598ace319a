// Exo classes and kits, scalar stores, patterns and makeDefaultExo, as reference vats use them
// (cf. ocap-kernel's kernel-test exo-vat), bundled with @endo/* at the reference's versions.
import { makeScalarMapStore, makeScalarSetStore, makeScalarWeakMapStore } from '@agoric/store';
import { defineExoClass, defineExoClassKit, makeExo } from '@endo/exo';
import { M, matches, mustMatch } from '@endo/patterns';
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

/** What `thunk` throws, as `Name: message`, or 'no error'. */
const failure = thunk => {
  try {
    thunk();
    return 'no error';
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
};

export function buildRootObject(vatPowers, parameters) {
  const name = parameters?.name ?? 'exo';
  const tlog = vatPowers.logger.subLogger({ tags: ['test', name] });

  const CounterI = M.interface('Counter', {
    getValue: M.call().returns(M.number()),
    increment: M.call().optional(M.number()).returns(M.number()),
  });
  const Counter = defineExoClass(
    'Counter',
    CounterI,
    (value = 0) => ({ value }),
    {
      getValue() {
        return this.state.value;
      },
      increment(by = 1) {
        this.state.value += by;
        return this.state.value;
      },
    },
  );

  const Temperature = defineExoClassKit(
    'Temperature',
    {
      celsius: M.interface('Celsius', {
        get: M.call().returns(M.number()),
        set: M.call(M.number()).returns(M.number()),
      }),
      fahrenheit: M.interface('Fahrenheit', {
        get: M.call().returns(M.number()),
        set: M.call(M.number()).returns(M.number()),
      }),
    },
    (celsius = 0) => ({ celsius }),
    {
      celsius: {
        get() {
          return this.state.celsius;
        },
        set(value) {
          this.state.celsius = value;
          return this.facets.fahrenheit.get();
        },
      },
      fahrenheit: {
        get() {
          return (this.state.celsius * 9) / 5 + 32;
        },
        set(value) {
          this.state.celsius = ((value - 32) * 5) / 9;
          return this.facets.celsius.get();
        },
      },
    },
  );

  const plain = makeExo(
    'Greeter',
    M.interface('Greeter', { greet: M.call(M.string()).returns(M.string()) }),
    { greet: who => `hello ${who}` },
  );

  const counters = makeScalarMapStore('counters');
  const seen = makeScalarSetStore('seen');
  const notes = makeScalarWeakMapStore('notes');

  tlog.log(`buildRootObject ${name}`);

  return makeDefaultExo('root', {
    bootstrap() {
      return `${name} ready`;
    },
    makeCounter(label, start) {
      const counter = Counter(start);
      counters.init(label, counter);
      seen.add(label);
      notes.init(counter, `made as ${label}`);
      return counter;
    },
    counter(label) {
      return counters.get(label);
    },
    noteOf(label) {
      return notes.get(counters.get(label));
    },
    labels() {
      return [...counters.keys()];
    },
    /** What the stores and guards refuse, with the @endo and @agoric words for it. */
    refusals() {
      return {
        duplicate: failure(() => counters.init('a', Counter(0))),
        missing: failure(() => counters.get('nobody')),
        badKey: failure(() => seen.add(harden({ not: 'a key' }))),
        badArgument: failure(() => Counter(1).increment('x')),
        extraArgument: failure(() => Counter(1).increment(1, 2)),
        missingMethod: failure(() => plain.shout('x')),
        kitGuard: failure(() => Temperature(0).celsius.set('hot')),
      };
    },
    temperature(celsius) {
      const { celsius: c, fahrenheit: f } = Temperature(celsius);
      const first = f.get();
      const back = f.set(212);
      return [first, back, c.get()];
    },
    greet(who) {
      return plain.greet(who);
    },
    patterns() {
      const shape = M.splitRecord({ id: M.nat() }, { label: M.string() });
      return {
        record: matches(harden({ id: 3n, label: 'x' }), shape),
        extra: matches(harden({ id: 3n, other: 1 }), shape),
        or: matches(5, M.or(M.string(), M.gte(4))),
        arrayOf: matches(harden([1, 2, 'x']), M.arrayOf(M.number())),
        mustMatch: failure(() => mustMatch(harden([1, 'x']), M.arrayOf(M.number()), 'numbers')),
      };
    },
    floats() {
      const bits = new Float64Array(1);
      bits[0] = 1.5;
      return [typeof Float32Array, bits[0], new Uint8Array(bits.buffer)[7]];
    },
  });
}
