// Web Crypto's `SubtleCrypto` (W3C Web Cryptography API) for vats: `crypto.subtle` for those
// that ask for `crypto`, the class for those that ask for `SubtleCrypto`. The arithmetic is
// RustCrypto's, through the host (src/vat/quickjs/subtle.rs); here are the spec's checks and its
// error names. Algorithm names match in any case. The subset:
//   digest           SHA-1, SHA-256, SHA-384, SHA-512
//   HMAC             generateKey; importKey/exportKey raw, jwk; sign, verify (whole-byte keys)
//   AES-GCM          generateKey; importKey/exportKey raw, jwk (128, 192, 256 bits); encrypt,
//                    decrypt with a 96-bit iv, additionalData, tagLength 128
//   Ed25519          generateKey, sign, verify; public keys raw, spki, jwk; private pkcs8, jwk
//   PBKDF2, HKDF     importKey raw; deriveBits; deriveKey to HMAC or AES-GCM
// Everything else (RSA, ECDSA, ECDH, X25519, AES-CBC/CTR/KW, wrapKey, unwrapKey, other iv or tag
// lengths) rejects with NotSupportedError. PBKDF2 runs at most 1,000,000 HMACs per call: a host
// call is not interrupted by the vat's CPU budget. A key's bytes live in a WeakMap here, never on
// its CryptoKey. This file is the API; the algorithms are in subtle-algorithms.js.

import { domException as fail } from './errors.js';
import { bufferOf, makeAlgorithms } from './subtle-algorithms.js';

const KEY_USAGES = [
  'encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey',
];
const FORMATS = ['raw', 'spki', 'pkcs8', 'jwk'];

/** Lets only this module construct the classes whose constructors vats may not call. */
const INTERNAL = Symbol('internal');

/** Each CryptoKey's internal slots: type, extractable, algorithm, usages and its bytes. */
const slotsOf = new WeakMap();

const slots = key => {
  const found = slotsOf.get(key);
  if (found === undefined) {
    throw TypeError('not a CryptoKey');
  }
  return found;
};

class CryptoKey {
  constructor(internal) {
    if (internal !== INTERNAL) {
      throw TypeError('Illegal constructor');
    }
  }

  get type() {
    return slots(this).type;
  }

  get extractable() {
    return slots(this).extractable;
  }

  get algorithm() {
    return slots(this).algorithm;
  }

  get usages() {
    return slots(this).usages;
  }
}

const keys = {
  make(type, extractable, algorithm, usages, secret) {
    if (type !== 'public' && usages.length === 0) {
      throw fail('SyntaxError', `a ${type} key needs at least one usage`);
    }
    const key = harden(new CryptoKey(INTERNAL));
    harden([algorithm, usages]);
    slotsOf.set(key, { type, extractable, algorithm, usages, ...secret });
    return key;
  },
  secret: (extractable, algorithm, usages, material) =>
    keys.make('secret', extractable, algorithm, usages, { material }),
  slots,
};

/** `usages` without repeats, or a TypeError for a name that is not a key usage. */
const usagesOf = usages => {
  if (!Array.isArray(usages) || usages.some(usage => !KEY_USAGES.includes(usage))) {
    throw TypeError(`key usages must be a list of ${KEY_USAGES.join(', ')}`);
  }
  return [...new Set(usages)];
};

const formatOf = format => {
  if (!FORMATS.includes(format)) {
    throw TypeError(`a key format is one of ${FORMATS.join(', ')}`);
  }
  return format;
};

/** `algorithm` (a name, or an object with one) as `{ ...params, name }` for `operation`. */
const normalizeFor = (algorithms, algorithm, operation) => {
  const params = typeof algorithm === 'string' ? { name: algorithm } : algorithm;
  if (typeof params !== 'object' || params === null || typeof params.name !== 'string') {
    throw TypeError('an algorithm is a name or an object with a name');
  }
  const wanted = params.name.toLowerCase();
  const name = Object.keys(algorithms).find(known => known.toLowerCase() === wanted);
  if (name === undefined || !(operation in algorithms[name])) {
    const what = operation === 'keyLength' ? 'a key deriveKey makes' : operation;
    throw fail('NotSupportedError', `${params.name} is not supported for ${what} in ocapd`);
  }
  return { ...params, name };
};

/** `SubtleCrypto` over `host` and an instance of it, for one vat. */
export const makeSubtle = (host, randomBytes) => {
  const algorithms = makeAlgorithms(host, randomBytes, keys);
  const normalize = (algorithm, operation) => normalizeFor(algorithms, algorithm, operation);

  /** The slots of `key`, once it is a key for `name` that may be used to `usage`. */
  const use = (key, name, usage) => {
    const found = slots(key);
    if (found.algorithm.name !== name) {
      throw fail('InvalidAccessError', `the key is for ${found.algorithm.name}, not ${name}`);
    }
    if (!found.usages.includes(usage)) {
      throw fail('InvalidAccessError', `the key's usages do not include ${usage}`);
    }
    return found;
  };

  // Every method is async: its errors reject the promise it returns, as the spec's do.
  class SubtleCrypto {
    constructor(internal) {
      if (internal !== INTERNAL) {
        throw TypeError('Illegal constructor');
      }
    }

    async digest(algorithm, data) {
      const params = normalize(algorithm, 'digest');
      return algorithms[params.name].digest(params, bufferOf(data, 'data'));
    }

    async generateKey(algorithm, extractable, usages) {
      const params = normalize(algorithm, 'generateKey');
      return algorithms[params.name].generateKey(params, Boolean(extractable), usagesOf(usages));
    }

    async importKey(format, keyData, algorithm, extractable, usages) {
      const params = normalize(algorithm, 'importKey');
      const [checked, wanted] = [formatOf(format), usagesOf(usages)];
      return algorithms[params.name].importKey(checked, keyData, params, Boolean(extractable), wanted);
    }

    async exportKey(format, key) {
      const found = slots(key);
      const algorithm = algorithms[found.algorithm.name];
      if (!('exportKey' in algorithm)) {
        throw fail('NotSupportedError', `${found.algorithm.name} keys cannot be exported`);
      }
      if (!found.extractable) {
        throw fail('InvalidAccessError', 'the key is not extractable');
      }
      return algorithm.exportKey(formatOf(format), found);
    }

    async sign(algorithm, key, data) {
      const params = normalize(algorithm, 'sign');
      const found = use(key, params.name, 'sign');
      return algorithms[params.name].sign(params, found, bufferOf(data, 'data'));
    }

    async verify(algorithm, key, signature, data) {
      const params = normalize(algorithm, 'verify');
      const [found, bytes] = [use(key, params.name, 'verify'), bufferOf(data, 'data')];
      return algorithms[params.name].verify(params, found, bufferOf(signature, 'signature'), bytes);
    }

    async encrypt(algorithm, key, data) {
      const params = normalize(algorithm, 'encrypt');
      const found = use(key, params.name, 'encrypt');
      return algorithms[params.name].encrypt(params, found, bufferOf(data, 'data'));
    }

    async decrypt(algorithm, key, data) {
      const params = normalize(algorithm, 'decrypt');
      const found = use(key, params.name, 'decrypt');
      return algorithms[params.name].decrypt(params, found, bufferOf(data, 'data'));
    }

    async deriveBits(algorithm, baseKey, length) {
      const params = normalize(algorithm, 'deriveBits');
      const found = use(baseKey, params.name, 'deriveBits');
      return algorithms[params.name].deriveBits(params, found, length);
    }

    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, usages) {
      const params = normalize(algorithm, 'deriveBits');
      const target = normalize(derivedKeyType, 'keyLength');
      const kind = algorithms[target.name];
      const base = use(baseKey, params.name, 'deriveKey');
      const bits = algorithms[params.name].deriveBits(params, base, kind.keyLength(target));
      return kind.importKey('raw', bits, target, Boolean(extractable), usagesOf(usages));
    }

    async wrapKey() {
      throw fail('NotSupportedError', 'wrapKey is not supported in ocapd');
    }

    async unwrapKey() {
      throw fail('NotSupportedError', 'unwrapKey is not supported in ocapd');
    }
  }

  return { SubtleCrypto, subtle: new SubtleCrypto(INTERNAL) };
};
