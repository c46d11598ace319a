// The algorithms under `SubtleCrypto` (subtle.js): for each, the Web Crypto spec's checks of
// its parameters, key data and lengths, with its error names, over the host's RustCrypto
// primitives (src/vat/quickjs/subtle.rs).

import { domException as fail } from './errors.js';
import { viewOf } from './text.js';

const { atob, btoa } = globalThis;

/** Output bytes and HMAC block bits of each digest. */
const HASHES = {
  'SHA-1': [20, 512],
  'SHA-256': [32, 512],
  'SHA-384': [48, 1024],
  'SHA-512': [64, 1024],
};
const PBKDF2_MAX_HMACS = 1_000_000;
// RFC 8410's DER wrappings of a 32-byte Ed25519 key.
const SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const PKCS8_PREFIX = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

// --- bytes -----------------------------------------------------------------------------------

/** A copy of a BufferSource's bytes, as the ArrayBuffer the host takes. */
export const bufferOf = (data, what) => {
  const view = viewOf(data);
  if (view === undefined) {
    throw TypeError(`${what} must be an ArrayBuffer, a TypedArray or a DataView`);
  }
  return view.slice().buffer;
};

const concat = (...parts) => Uint8Array.from(parts.flatMap(part => [...new Uint8Array(part)])).buffer;

const sameBytes = (a, b) => toBase64url(a) === toBase64url(b);

/** `buffer` without `prefix`, or a DataError if it is not `prefix` and `size` more bytes. */
const unwrap = (buffer, prefix, size, what) => {
  const bytes = new Uint8Array(buffer);
  if (bytes.length !== prefix.length + size || prefix.some((x, i) => bytes[i] !== x)) {
    throw fail('DataError', `not an Ed25519 ${what} key`);
  }
  return buffer.slice(prefix.length);
};

const toBase64url = buffer =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const fromBase64url = (text, field) => {
  try {
    if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw Error();
    const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
    return Uint8Array.from(atob(padded), c => c.charCodeAt(0)).buffer;
  } catch {
    throw fail('DataError', `JWK member "${field}" is not base64url`);
  }
};

/** A `length` in bits as bytes: deriveBits asks for whole bytes. */
const bytesOfBits = bits => {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits % 8 !== 0) {
    throw fail('OperationError', `a length of ${bits} bits is not a whole number of bytes`);
  }
  return bits / 8;
};

// --- algorithm parameters --------------------------------------------------------------------

/** `usages`, or a SyntaxError for one an algorithm's key cannot have. */
const allow = (usages, allowed, what) => {
  const wrong = usages.find(usage => !allowed.includes(usage));
  if (wrong !== undefined) {
    throw fail('SyntaxError', `${what} keys cannot be used to ${wrong}`);
  }
  return usages;
};

const checkJwk = (jwk, kty, extractable, usages) => {
  if (typeof jwk !== 'object' || jwk === null) {
    throw TypeError('a jwk key must be an object');
  }
  if (jwk.kty !== kty) {
    throw fail('DataError', `JWK "kty" must be "${kty}"`);
  }
  if (jwk.key_ops !== undefined && !usages.every(usage => [...jwk.key_ops].includes(usage))) {
    throw fail('DataError', 'JWK "key_ops" does not allow the usages asked for');
  }
  if (jwk.ext === false && extractable) {
    throw fail('DataError', 'JWK "ext" is false but an extractable key was asked for');
  }
};

const checkJwkAlg = (jwk, algs, use) => {
  if (jwk.alg !== undefined && !algs.includes(jwk.alg)) {
    throw fail('DataError', `JWK "alg" ${jwk.alg} is not ${algs.join(' or ')}`);
  }
  if (jwk.use !== undefined && jwk.use !== use) {
    throw fail('DataError', `JWK "use" must be "${use}"`);
  }
};

/** The bytes of a raw or jwk secret key; `algOf` names the JWK "alg" of such bytes. */
const secretBytes = (format, data, extractable, usages, algOf, use) => {
  if (format === 'raw') {
    return bufferOf(data, 'keyData');
  }
  if (format === 'jwk') {
    checkJwk(data, 'oct', extractable, usages);
    const material = fromBase64url(data.k, 'k');
    checkJwkAlg(data, [algOf(material)], use);
    return material;
  }
  throw fail('NotSupportedError', `${format} is not a format for secret keys`);
};

/** A secret key's bytes as `format` asks, with `alg` in a JWK. */
const secretExport = (format, key, alg) => {
  if (format === 'raw') {
    return key.material.slice(0);
  }
  if (format === 'jwk') {
    return { kty: 'oct', k: toBase64url(key.material), alg, key_ops: [...key.usages], ext: true };
  }
  throw fail('NotSupportedError', `${format} is not a format for secret keys`);
};

// --- the algorithms --------------------------------------------------------------------------

/** The digest named by `params.hash` (a name, or an object with one), in any case. */
const hashOf = params => {
  const name = typeof params.hash === 'string' ? params.hash : params.hash?.name;
  const hash = Object.keys(HASHES).find(known => known.toLowerCase() === String(name).toLowerCase());
  if (hash === undefined) {
    throw fail('NotSupportedError', `${name} is not a digest ocapd supports`);
  }
  return hash;
};

/**
 * The algorithms by name, each an object with the operations it supports (SubtleCrypto's method
 * names, and `keyLength` for a kind of key deriveKey makes); `keys` makes CryptoKeys.
 */
export const makeAlgorithms = (host, randomBytes, keys) => {
  const random = count => randomBytes(count).buffer;
  const digest = name => ({
    digest: (params, data) => host.subtleDigest(name, data),
  });

  const hmacLength = params => {
    const bits = params.length ?? HASHES[hashOf(params)][1];
    if (bits === 0 || bits % 8 !== 0) {
      const name = bits === 0 ? 'OperationError' : 'NotSupportedError';
      throw fail(name, `HMAC keys of ${bits} bits are not supported`);
    }
    return bits;
  };
  const HMAC = {
    generateKey: (params, extractable, usages) =>
      HMAC.importKey('raw', random(hmacLength(params) / 8), params, extractable, usages),
    importKey(format, data, params, extractable, usages) {
      const hash = hashOf(params);
      allow(usages, ['sign', 'verify'], 'HMAC');
      const material = secretBytes(format, data, extractable, usages, () => `HS${hash.slice(4)}`, 'sig');
      const bits = material.byteLength * 8;
      if (bits === 0 || (params.length ?? bits) !== bits) {
        throw fail('DataError', 'HMAC key data is empty or not of the length asked for');
      }
      return keys.secret(extractable, { name: 'HMAC', hash: { name: hash }, length: bits }, usages, material);
    },
    exportKey: (format, key) => secretExport(format, key, `HS${key.algorithm.hash.name.slice(4)}`),
    sign: (params, key, data) => host.subtleHmacSign(key.algorithm.hash.name, key.material, data),
    verify: (params, key, signature, data) =>
      host.subtleHmacVerify(key.algorithm.hash.name, key.material, data, signature),
    keyLength: hmacLength,
  };

  const aesLength = params => {
    if (![128, 192, 256].includes(params.length)) {
      throw fail('OperationError', 'AES-GCM keys are 128, 192 or 256 bits long');
    }
    return params.length;
  };
  const aesGcm = (encrypt, params, key, data) => {
    const iv = bufferOf(params.iv, 'iv');
    const tagLength = params.tagLength ?? 128;
    if (iv.byteLength !== 12 || tagLength !== 128) {
      const known = [32, 64, 96, 104, 112, 120, 128].includes(tagLength);
      const name = known ? 'NotSupportedError' : 'OperationError';
      throw fail(name, "ocapd's AES-GCM takes a 96-bit iv and a 128-bit tag");
    }
    const { additionalData } = params;
    const aad = additionalData === undefined ? new ArrayBuffer(0) : bufferOf(additionalData, 'additionalData');
    const result = host.subtleAesGcm(encrypt, key.material, iv, aad, data);
    if (result === null || result === undefined) {
      throw fail('OperationError', 'the AES-GCM tag does not authenticate the data');
    }
    return result;
  };
  const AES_GCM = {
    generateKey: (params, extractable, usages) =>
      AES_GCM.importKey('raw', random(aesLength(params) / 8), { name: 'AES-GCM' }, extractable, usages),
    importKey(format, data, params, extractable, usages) {
      allow(usages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'AES-GCM');
      const algOf = bytes => `A${bytes.byteLength * 8}GCM`;
      const material = secretBytes(format, data, extractable, usages, algOf, 'enc');
      if (![16, 24, 32].includes(material.byteLength)) {
        throw fail('DataError', 'AES-GCM keys are 128, 192 or 256 bits long');
      }
      const algorithm = { name: 'AES-GCM', length: material.byteLength * 8 };
      return keys.secret(extractable, algorithm, usages, material);
    },
    exportKey: (format, key) => secretExport(format, key, `A${key.algorithm.length}GCM`),
    encrypt: (params, key, data) => aesGcm(true, params, key, data),
    decrypt: (params, key, data) => aesGcm(false, params, key, data),
    keyLength: aesLength,
  };

  const ED25519 = { name: 'Ed25519' };
  const ed25519Public = (extractable, usages, material) =>
    keys.make('public', extractable, ED25519, allow(usages, ['verify'], 'Ed25519 public'), { material });
  const ed25519Private = (extractable, usages, seed) => {
    if (seed.byteLength !== 32) {
      throw fail('DataError', 'an Ed25519 private key is 32 bytes');
    }
    const publicKey = host.subtleEd25519Public(seed);
    const slots = { material: seed, publicKey };
    return keys.make('private', extractable, ED25519, allow(usages, ['sign'], 'Ed25519 private'), slots);
  };
  const ed25519Jwk = (jwk, extractable, usages) => {
    checkJwk(jwk, 'OKP', extractable, usages);
    checkJwkAlg(jwk, ['Ed25519', 'EdDSA'], 'sig');
    const x = fromBase64url(jwk.x, 'x');
    if (jwk.crv !== 'Ed25519' || x.byteLength !== 32) {
      throw fail('DataError', 'not an Ed25519 JWK');
    }
    if (jwk.d === undefined) {
      return ed25519Public(extractable, usages, x);
    }
    const key = ed25519Private(extractable, usages, fromBase64url(jwk.d, 'd'));
    if (!sameBytes(keys.slots(key).publicKey, x)) {
      throw fail('DataError', 'JWK "x" is not the public key of "d"');
    }
    return key;
  };
  const Ed25519 = {
    generateKey(params, extractable, usages) {
      allow(usages, ['sign', 'verify'], 'Ed25519');
      const privateKey = ed25519Private(extractable, usages.filter(u => u === 'sign'), random(32));
      const { publicKey: bytes } = keys.slots(privateKey);
      const publicKey = ed25519Public(true, usages.filter(u => u === 'verify'), bytes);
      return { publicKey, privateKey };
    },
    importKey(format, data, params, extractable, usages) {
      if (format === 'jwk') {
        return ed25519Jwk(data, extractable, usages);
      }
      const [prefix, make] = {
        raw: [[], ed25519Public],
        spki: [SPKI_PREFIX, ed25519Public],
        pkcs8: [PKCS8_PREFIX, ed25519Private],
      }[format];
      return make(extractable, usages, unwrap(bufferOf(data, 'keyData'), prefix, 32, format));
    },
    exportKey(format, key) {
      const isPublic = key.type === 'public';
      if (format === 'jwk') {
        const x = toBase64url(isPublic ? key.material : key.publicKey);
        const d = isPublic ? {} : { d: toBase64url(key.material) };
        const ops = { key_ops: [...key.usages], ext: true };
        return { kty: 'OKP', crv: 'Ed25519', alg: 'Ed25519', x, ...d, ...ops };
      }
      if (isPublic && format === 'raw') {
        return key.material.slice(0);
      }
      if (isPublic && format === 'spki') {
        return concat(SPKI_PREFIX, key.material);
      }
      if (!isPublic && format === 'pkcs8') {
        return concat(PKCS8_PREFIX, key.material);
      }
      throw fail('InvalidAccessError', `an Ed25519 ${key.type} key cannot be exported as ${format}`);
    },
    sign: (params, key, data) => host.subtleEd25519Sign(key.material, data),
    verify: (params, key, signature, data) => host.subtleEd25519Verify(key.material, signature, data),
  };

  const kdfImport = name => (format, data, params, extractable, usages) => {
    if (format !== 'raw') {
      throw fail('NotSupportedError', `${name} keys are imported raw`);
    }
    if (extractable) {
      throw fail('SyntaxError', `${name} keys cannot be extractable`);
    }
    allow(usages, ['deriveKey', 'deriveBits'], name);
    return keys.secret(false, { name }, usages, bufferOf(data, 'keyData'));
  };
  const PBKDF2 = {
    importKey: kdfImport('PBKDF2'),
    deriveBits(params, key, bits) {
      const hash = hashOf(params);
      const bytes = bytesOfBits(bits);
      const { iterations } = params;
      if (!Number.isInteger(iterations) || iterations < 1) {
        throw fail('OperationError', `PBKDF2 needs a positive number of iterations, not ${iterations}`);
      }
      if (iterations * Math.max(1, Math.ceil(bytes / HASHES[hash][0])) > PBKDF2_MAX_HMACS) {
        throw fail('NotSupportedError', `ocapd's PBKDF2 runs at most ${PBKDF2_MAX_HMACS} HMACs per call`);
      }
      return host.subtlePbkdf2(hash, key.material, bufferOf(params.salt, 'salt'), iterations, bytes);
    },
  };
  const HKDF = {
    importKey: kdfImport('HKDF'),
    deriveBits(params, key, bits) {
      const hash = hashOf(params);
      const [salt, info] = [bufferOf(params.salt, 'salt'), bufferOf(params.info, 'info')];
      const result = host.subtleHkdf(hash, key.material, salt, info, bytesOfBits(bits));
      if (result === null || result === undefined) {
        throw fail('OperationError', `HKDF-${hash} derives at most ${255 * HASHES[hash][0] * 8} bits`);
      }
      return result;
    },
  };

  const algorithms = { HMAC, 'AES-GCM': AES_GCM, Ed25519, PBKDF2, HKDF };
  for (const name of Object.keys(HASHES)) {
    algorithms[name] = digest(name);
  }

  return algorithms;
};
