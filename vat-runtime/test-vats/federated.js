// A vat for the federation tests (tests/it/federation.rs), one in each of two kernels: a
// counter that records every numbered bump in baggage (a lost or doubled message shows), and
// methods that pass objects and promises across kernels through the OCAP URL services.
import { E } from '@endo/eventual-send';
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

const makePromiseKit = () => {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

const makeThing = (label) =>
  makeDefaultExo('Thing', {
    label() {
      return label;
    },
  });

export function buildRootObject(_vatPowers, _parameters, baggage) {
  const remember = (key, value) =>
    baggage.has(key) ? baggage.set(key, value) : baggage.init(key, value);
  const recall = (key, fallback) => (baggage.has(key) ? baggage.get(key) : fallback);
  // What lives only in the heap: objects made here, promises this vat will settle.
  let original;
  let mine;
  let later;
  let took;
  const root = makeDefaultExo('Federated', {
    bootstrap(_vats, services) {
      remember('issuer', services.ocapURLIssuerService);
      remember('redeemer', services.ocapURLRedemptionService);
      return 'ready';
    },
    // Counting: each bump is recorded once, in order.
    bump(n) {
      const bumps = recall('bumps', []);
      remember('bumps', harden([...bumps, n]));
      return n;
    },
    bumps() {
      return recall('bumps', []);
    },
    // Sends `count` bumps, numbered from `from`, to the held presence, in one delivery.
    burst(from, count) {
      const target = recall('held');
      for (let i = 0; i < count; i += 1) {
        E(target).bump(from + i);
      }
      return count;
    },
    // URLs.
    issueSelf() {
      return E(recall('issuer')).issue(root);
    },
    issueOriginal(label) {
      original = makeThing(label);
      return E(recall('issuer')).issue(original);
    },
    isOriginal(thing) {
      return thing === original;
    },
    redeem(url) {
      return E(recall('redeemer')).redeem(url);
    },
    async redeemAndLabel(url) {
      const thing = await E(recall('redeemer')).redeem(url);
      return E(thing).label();
    },
    // Holding what came from elsewhere (in baggage: it outlives the heap).
    async hold(url) {
      remember('held', await E(recall('redeemer')).redeem(url));
      return 'held';
    },
    held() {
      return recall('held');
    },
    // Sends the held thing back to where it came from: `home` (a URL of that kernel's vat)
    // tells whether it got its original back.
    async returnHeld(home) {
      const there = await E(recall('redeemer')).redeem(home);
      return E(there).isOriginal(recall('held'));
    },
    makeThing(label) {
      return makeThing(label);
    },
    // Promises: one this vat settles later, awaited from the other kernel …
    later() {
      later = makePromiseKit();
      return later.promise;
    },
    laterAsked() {
      return later !== undefined;
    },
    settleLater(value) {
      later.resolve(value);
      return 'settled';
    },
    async awaitLater(url) {
      const there = await E(recall('redeemer')).redeem(url);
      return E(there).later();
    },
    // … and one this vat hands to the other kernel as an argument.
    async giveMine(url) {
      const there = await E(recall('redeemer')).redeem(url);
      mine = makePromiseKit();
      E(there).take(mine.promise);
      return 'given';
    },
    settleMine(value) {
      mine.resolve(value);
      return 'settled';
    },
    take(promise) {
      took = 'waiting';
      promise.then((value) => {
        took = value;
      });
      return 'taking';
    },
    took() {
      return took;
    },
  });
  return root;
}
