// A vat that uses the kernel's OCAP URL services: issues URLs for objects it makes, redeems
// URLs (its own or the daemon's) and calls what it gets. For the kernel's service tests.
import { E } from '@endo/eventual-send';
import { makeExo } from '@endo/exo';
import { M } from '@endo/patterns';

const makeDefaultExo = (name, methods) =>
  makeExo(name, M.interface(name, {}, { defaultGuards: 'passable' }), methods);

const makeCounter = () => {
  let count = 0;
  return makeDefaultExo('Counter', {
    inc() {
      count += 1;
      return count;
    },
    read() {
      return count;
    },
  });
};

export function buildRootObject() {
  let issuer;
  let redeemer;
  return makeDefaultExo('UrlHolder', {
    bootstrap(_vats, services) {
      issuer = services.ocapURLIssuerService;
      redeemer = services.ocapURLRedemptionService;
      return 'ready';
    },
    makeCounter,
    issueCounter() {
      return E(issuer).issue(makeCounter());
    },
    issueText() {
      return E(issuer).issue('not an object');
    },
    async redeemAndInc(url) {
      const counter = await E(redeemer).redeem(url);
      return E(counter).inc();
    },
  });
}
