// A vat for the endowment tests: each method exercises the globals of spec §3.2 that ocapd
// provides, when the config asks for them (`globals`).
import { Far } from '@endo/far';
import { errorName, rejection } from './support/errors.js';

const bytes = array => [...array];

const site = 'https://example.org/';

const hex = buffer => [...new Uint8Array(buffer)].map(x => x.toString(16).padStart(2, '0')).join('');
const fromHex = text => new Uint8Array(text.match(/../g).map(pair => parseInt(pair, 16)));
const ascii = text => Uint8Array.from(text, c => c.charCodeAt(0));

/** The name of the error `promise` rejects with, and whether it was a promise at all. */
const rejectionOf = promise => {
  if (!(promise instanceof Promise)) {
    return Promise.resolve('not a promise');
  }
  return promise.then(() => 'no error', error => error.name);
};

export function buildRootObject() {
  return Far('root', {
    text() {
      const encoder = new TextEncoder();
      const decode = (list, options) => new TextDecoder('utf-8', options).decode(new Uint8Array(list));
      const streamed = new TextDecoder();
      const euro = streamed.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) +
        streamed.decode(new Uint8Array([0xac]));
      return [
        bytes(encoder.encode('a\u20ac\u{1F600}\uD800b')),
        encoder.encodeInto('a\u20ac', new Uint8Array(3)),
        decode([0xef, 0xbb, 0xbf, 0x68, 0x69]),
        decode([0xef, 0xbb, 0xbf, 0x68], { ignoreBOM: true }).length,
        decode([0xc0, 0x80, 0x41]),
        decode([0xe2, 0x82]),
        decode([0xf0, 0x9f, 0x98, 0x41]),
        euro,
        errorName(() => decode([0xff], { fatal: true })),
        errorName(() => new TextDecoder('latin1')),
        new TextDecoder('UTF8').encoding,
      ];
    },
    base64() {
      return [btoa('hello'), atob('aGVsbG8=')];
    },
    random() {
      const values = crypto.getRandomValues(new Uint8Array(32));
      const floats = Array.from({ length: 100 }, () => Math.random());
      return [
        values.length,
        values.some(x => x !== 0),
        crypto.getRandomValues(new BigUint64Array(2)).length,
        errorName(() => crypto.getRandomValues(new Uint8Array(65537))),
        errorName(() => crypto.getRandomValues(new DataView(new ArrayBuffer(8)))),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
        floats.every(x => x >= 0 && x < 1),
        new Set(floats).size,
        Math.max(2, 7),
        Object.isFrozen(Math),
      ];
    },
    clock(hostNow) {
      const first = Date.now();
      const second = Date.now();
      return [
        second >= first,
        Math.abs(first - hostNow) < 60000,
        new Date() instanceof Date,
        typeof Date(),
        new Date(0).toISOString(),
        Date.UTC(2000, 0, 1),
      ];
    },
    url() {
      const url = new URL('HTTPS://user:pw@\u4F8B\u3048.jp:8080/a/../b?x=1&y=two%20words#f');
      const params = new URLSearchParams('a=1&b=%20&a=3');
      params.append('c', 'd&e');
      return [
        url.href,
        url.hostname,
        url.port,
        url.searchParams.get('y'),
        new URL('../c?q', 'https://h.example/a/b/').href,
        params.getAll('a'),
        params.toString(),
        errorName(() => new URL('no scheme')),
        URL.canParse('mailto:x@example.org'),
      ];
    },
    abort() {
      const controller = new AbortController();
      const { signal } = controller;
      const seen = [];
      signal.addEventListener('abort', event => seen.push(`once ${event.type}`), { once: true });
      signal.onabort = () => seen.push('replaced');
      const listener = () => seen.push('listener');
      signal.addEventListener('abort', listener);
      signal.addEventListener('abort', listener);
      signal.onabort = () => seen.push('onabort');
      const other = new AbortController();
      const either = AbortSignal.any([other.signal, signal]);
      const before = [signal.aborted, either.aborted];
      controller.abort('why');
      controller.abort('again');
      return [
        before,
        signal.aborted,
        signal.reason,
        either.reason,
        seen,
        (() => {
          try {
            signal.throwIfAborted();
            return 'no throw';
          } catch (reason) {
            return reason;
          }
        })(),
        AbortSignal.abort().reason.name,
        errorName(() => new AbortSignal()),
        other.signal.aborted,
        typeof AbortSignal.timeout,
      ];
    },
    headers() {
      const headers = new Headers([['B', ' 2\t'], ['a', '1'], ['Set-Cookie', 'x=1']]);
      headers.append('A', '3');
      headers.append('set-cookie', 'y=2');
      const copy = new Headers(headers);
      copy.set('a', 'only');
      copy.delete('B');
      const seen = [];
      headers.forEach((value, name, self) => seen.push(`${name}=${value}`, self === headers));
      const keys = headers.keys();
      keys.next();
      headers.append('c', '4');
      return [
        [...headers],
        [...keys],
        [...headers.values()],
        [headers.get('A'), headers.get('set-cookie'), headers.get('none')],
        headers.has('SET-COOKIE'),
        headers.getSetCookie(),
        [...copy],
        [...new Headers({ 'X-One': 'v' })],
        seen,
        Object.prototype.toString.call(headers),
        errorName(() => headers.append('bad name', 'v')),
        errorName(() => headers.append('x', 'a\r\nb')),
        errorName(() => headers.set('x', '\u20ac')),
        errorName(() => headers.get('\u00e9')),
        errorName(() => new Headers([['just one']])),
        errorName(() => new Headers('a: b')),
      ];
    },
    async request() {
      const headers = { 'X-A': '1' };
      const post = new Request(`${site}a?b#f`, { method: 'post', body: 'h\u00e9', headers });
      const made = [post.url, post.method, [...post.headers], post.bodyUsed];
      const derived = new Request(post, { headers: [['x-b', '2']] });
      const controller = new AbortController();
      const signalled = new Request(site, { signal: controller.signal });
      const clone = signalled.clone();
      controller.abort('stop');
      const get = new Request(new URL(site));
      const offset = new Uint8Array([0, 104, 105, 0]).subarray(1, 3);
      const form = new Request(site, { method: 'PUT', body: new URLSearchParams('a=1&b=2 3') });
      return [
        made,
        [derived.method, [...derived.headers], post.bodyUsed, derived.bodyUsed],
        [await derived.text(), derived.bodyUsed, await rejection(() => derived.text())],
        new Request(site, { method: 'patch' }).method,
        [signalled.signal.aborted, clone.signal.aborted, clone.signal.reason],
        await new Request(site, { method: 'POST', body: '{"x":[1]}' }).json(),
        [...(await new Request(site, { method: 'POST', body: offset }).bytes())],
        [...new Uint8Array(await new Response(offset.buffer).arrayBuffer())],
        [form.headers.get('content-type'), await form.text()],
        [get.url, get.method, get.mode, get.credentials, get.cache, get.redirect, get.referrer],
        [get.integrity, get.keepalive, get.destination, get.body, get.bodyUsed, get.signal.aborted],
        [await get.text(), await get.text(), get.bodyUsed],
        errorName(() => new Request('/relative')),
        errorName(() => new Request('https://user:pw@example.org/')),
        errorName(() => new Request(site, { method: 'CONNECT' })),
        errorName(() => new Request(site, { method: 'trace' })),
        errorName(() => new Request(site, { method: 'two words' })),
        errorName(() => new Request(site, { body: 'x' })),
        errorName(() => new Request(site, { method: 'HEAD', body: 'x' })),
        errorName(() => new Request(site, { redirect: 'sometimes' })),
        errorName(() => new Request(site, { signal: {} })),
        errorName(() => post.clone()),
        errorName(() => new Request(post)),
        await rejection(() => get.blob()),
        await rejection(() => get.formData()),
      ];
    },
    async response() {
      const headers = { 'X-A': '1' };
      const plain = new Response('hi', { status: 201, statusText: 'Made', headers });
      const clone = plain.clone();
      const empty = new Response();
      const json = Response.json({ a: [1] }, { status: 202 });
      const redirect = Response.redirect(`${site}next`, 307);
      const error = Response.error();
      const bom = new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68]));
      return [
        [plain.status, plain.statusText, plain.ok, plain.type, plain.url, plain.redirected],
        [...plain.headers],
        [await plain.text(), plain.bodyUsed, await rejection(() => plain.arrayBuffer())],
        [await clone.text(), errorName(() => plain.clone())],
        [empty.status, empty.body, await empty.text(), empty.bodyUsed],
        [json.status, json.headers.get('content-type'), await json.json()],
        [redirect.status, redirect.headers.get('location'), redirect.body],
        [error.type, error.status, error.ok, [...error.headers]],
        [await bom.text(), new Response(null, { status: 204 }).status],
        errorName(() => error.headers.set('x', 'y')),
        errorName(() => redirect.headers.delete('location')),
        errorName(() => new Response('x', { status: 199 })),
        errorName(() => new Response('x', { status: 600 })),
        errorName(() => new Response('x', { status: 204 })),
        errorName(() => new Response('', { statusText: 'a\nb' })),
        errorName(() => Response.redirect(site, 200)),
        errorName(() => Response.redirect('/relative')),
        errorName(() => Response.json(undefined)),
        await rejection(() => new Response('{').json()),
        await rejection(() => new Response('x').blob()),
      ];
    },
    fetchClassesAreHardened() {
      return [
        [Headers, Request, Response].flatMap(Class => [
          Object.isFrozen(Class),
          Object.isFrozen(Class.prototype),
        ]),
        Object.isFrozen(Request.prototype.text),
        errorName(() => {
          Response.prototype.text = () => 'forged';
        }),
      ];
    },
    async subtleVectors() {
      const { subtle } = crypto;
      const abc = ascii('abc');
      const digests = await Promise.all(
        ['sha-1', 'SHA-256', { name: 'Sha-384' }, 'SHA-512'].map(hash => subtle.digest(hash, abc)),
      );
      // RFC 4231 case 2, the key from a DataView.
      const jefe = new DataView(ascii('xJefe').buffer, 1);
      const hmacKey = await subtle.importKey('raw', jefe, { name: 'hmac', hash: 'SHA-256' }, true, ['sign']);
      const mac = await subtle.sign('HMAC', hmacKey, ascii('what do ya want for nothing?'));
      // RFC 8032 test 1 (empty message), the private key as PKCS #8.
      const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
      const pkcs8 = fromHex(`302e020100300506032b657004220420${seed}`);
      const edKey = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign']);
      const signature = await subtle.sign('Ed25519', edKey, new Uint8Array(0));
      const edJwk = await subtle.exportKey('jwk', edKey);
      const publicKey = await subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: edJwk.x }, 'Ed25519', true, ['verify']);
      const fromJwk = await subtle.importKey('jwk', edJwk, 'Ed25519', false, ['sign']);
      const wrongX = { ...edJwk, x: edJwk.x.replace(/^./, 'A') };
      // The GCM specification's test case 4 (AES-128, with additional data).
      const aesKey = await subtle.importKey('raw', fromHex('feffe9928665731c6d6a8f9467308308'), 'AES-GCM', false, ['encrypt']);
      const gcm = {
        name: 'AES-GCM',
        iv: fromHex('cafebabefacedbaddecaf888'),
        additionalData: fromHex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
      };
      const plain = fromHex(
        'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
      );
      const sealed = await subtle.encrypt(gcm, aesKey, plain);
      // RFC 6070 case 3 and RFC 5869 case 1.
      const password = await subtle.importKey('raw', ascii('password'), 'PBKDF2', false, ['deriveBits']);
      const pbkdf2 = { name: 'PBKDF2', hash: 'SHA-1', salt: ascii('salt'), iterations: 4096 };
      const ikm = await subtle.importKey('raw', new Uint8Array(22).fill(0x0b), 'HKDF', false, ['deriveBits']);
      const hkdf = { name: 'HKDF', hash: 'SHA-256', salt: fromHex('000102030405060708090a0b0c'), info: fromHex('f0f1f2f3f4f5f6f7f8f9') };
      return [
        ...digests.map(hex),
        hex(mac),
        hex(signature),
        edJwk.x,
        await subtle.verify('Ed25519', publicKey, signature, new Uint8Array(0)),
        hex(await subtle.sign('Ed25519', fromJwk, new Uint8Array(0))) === hex(signature),
        hex(await subtle.exportKey('spki', publicKey)),
        await rejectionOf(subtle.importKey('jwk', wrongX, 'Ed25519', false, ['sign'])),
        hex(sealed),
        hex(await subtle.deriveBits(pbkdf2, password, 160)),
        hex(await subtle.deriveBits(hkdf, ikm, 336)),
      ];
    },
    async subtleRoundTrips() {
      const { subtle } = crypto;
      const message = ascii('a message');
      const hmac = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-512' }, true, ['sign', 'verify']);
      const mac = await subtle.sign('HMAC', hmac, message);
      const jwk = await subtle.exportKey('jwk', hmac);
      const again = await subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-512' }, false, ['verify']);
      const aes = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
      const aesJwk = await subtle.exportKey('jwk', aes);
      const aesAgain = await subtle.importKey('jwk', aesJwk, 'AES-GCM', false, ['decrypt']);
      const gcm = { name: 'AES-GCM', iv: crypto.getRandomValues(new Uint8Array(12)), additionalData: ascii('aad') };
      const sealed = new Uint8Array(await subtle.encrypt(gcm, aes, message));
      const tampered = sealed.slice();
      tampered[0] ^= 1;
      const pair = await subtle.generateKey('Ed25519', false, ['sign', 'verify']);
      const signature = await subtle.sign('Ed25519', pair.privateKey, message);
      const password = await subtle.importKey('raw', ascii('pw'), 'PBKDF2', false, ['deriveKey']);
      const pbkdf2 = { name: 'PBKDF2', hash: 'SHA-256', salt: ascii('salt'), iterations: 1000 };
      const derived = await subtle.deriveKey(pbkdf2, password, { name: 'AES-GCM', length: 128 }, false, ['encrypt', 'decrypt']);
      const ikm = await subtle.importKey('raw', ascii('ikm'), 'HKDF', false, ['deriveKey']);
      const hkdf = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new Uint8Array(0) };
      const hkdfMac = await subtle.deriveKey(hkdf, ikm, { name: 'HMAC', hash: 'SHA-384' }, true, ['sign']);
      return [
        hmac.algorithm,
        await subtle.verify('HMAC', hmac, mac, message),
        await subtle.verify('HMAC', again, mac, ascii('another message')),
        await subtle.verify('HMAC', again, mac, message),
        [jwk.kty, jwk.alg, jwk.k.length, jwk.key_ops, jwk.ext],
        aes.algorithm,
        sealed.length,
        [aesJwk.kty, aesJwk.alg, hex(await subtle.decrypt(gcm, aesAgain, sealed)) === hex(message)],
        await rejectionOf(subtle.decrypt(gcm, aes, tampered)),
        await rejectionOf(subtle.decrypt({ ...gcm, additionalData: ascii('other') }, aes, sealed)),
        [pair.publicKey.type, pair.publicKey.extractable, pair.publicKey.usages, pair.privateKey.usages],
        await subtle.verify('Ed25519', pair.publicKey, signature, message),
        await subtle.verify('Ed25519', pair.publicKey, signature, ascii('a massage')),
        (await subtle.exportKey('raw', pair.publicKey)).byteLength,
        (await subtle.exportKey('spki', pair.publicKey)).byteLength,
        hex(await subtle.decrypt(gcm, derived, await subtle.encrypt(gcm, derived, message))) === hex(message),
        [derived.algorithm, hkdfMac.algorithm, (await subtle.exportKey('raw', hkdfMac)).byteLength],
      ];
    },
    async subtleErrors() {
      const { subtle } = crypto;
      const data = new Uint8Array(4);
      const verifyOnly = await subtle.importKey('raw', data, { name: 'HMAC', hash: 'SHA-1' }, false, ['verify']);
      const aes = await subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
      const gcm = { name: 'AES-GCM', iv: new Uint8Array(12) };
      const fake = Object.create(Object.getPrototypeOf(verifyOnly));
      const exportable = await subtle.importKey('raw', data, { name: 'HMAC', hash: 'SHA-1' }, true, ['sign']);
      const password = await subtle.importKey('raw', data, 'PBKDF2', false, ['deriveBits']);
      const pbkdf2 = iterations => ({ name: 'PBKDF2', hash: 'SHA-256', salt: data, iterations });
      const ikm = await subtle.importKey('raw', data, 'HKDF', false, ['deriveBits']);
      const hkdf = { name: 'HKDF', hash: 'SHA-256', salt: data, info: data };
      return [
        errorName(() => new SubtleCrypto()),
        crypto.subtle instanceof SubtleCrypto,
        Object.isFrozen(crypto.subtle) && Object.isFrozen(SubtleCrypto.prototype),
        await rejectionOf(subtle.digest('MD5', data)),
        await rejectionOf(subtle.generateKey({ name: 'RSA-OAEP' }, true, ['encrypt'])),
        await rejectionOf(subtle.sign('HMAC', verifyOnly, data)),
        await rejectionOf(subtle.encrypt(gcm, verifyOnly, data)),
        await rejectionOf(subtle.exportKey('raw', verifyOnly)),
        await rejectionOf(subtle.exportKey('raw', aes)),
        await rejectionOf(subtle.importKey('raw', new Uint8Array(17), 'AES-GCM', true, ['encrypt'])),
        await rejectionOf(subtle.importKey('raw', data, { name: 'HMAC', hash: 'SHA-256' }, true, ['encrypt'])),
        await rejectionOf(subtle.importKey('raw', data, 'PBKDF2', true, ['deriveBits'])),
        await rejectionOf(subtle.generateKey('Ed25519', true, ['verify'])),
        await rejectionOf(subtle.encrypt({ ...gcm, iv: new Uint8Array(16) }, aes, data)),
        await rejectionOf(subtle.encrypt({ ...gcm, tagLength: 64 }, aes, data)),
        await rejectionOf(subtle.wrapKey('raw', aes, aes, gcm)),
        await rejectionOf(subtle.digest('SHA-256', 'not bytes')),
        await rejectionOf(subtle.sign('HMAC', fake, data)),
        await rejectionOf(subtle.importKey('jwk', { kty: 'oct', k: 'AAAA', alg: 'HS512' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign'])),
        await rejectionOf(subtle.exportKey('spki', exportable)),
        await rejectionOf(subtle.deriveBits(pbkdf2(0), password, 256)),
        await rejectionOf(subtle.deriveBits(pbkdf2(600000), password, 512)),
        await rejectionOf(subtle.deriveBits(hkdf, ikm, 255 * 256 + 8)),
        await rejectionOf(subtle.deriveKey(hkdf, ikm, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])),
        // What a vat can see of a key: no bytes.
        [Reflect.ownKeys(verifyOnly).length, JSON.stringify(verifyOnly), Object.isFrozen(verifyOnly)],
        [verifyOnly.type, verifyOnly.extractable, verifyOnly.algorithm, verifyOnly.usages],
        errorName(() => new (Object.getPrototypeOf(verifyOnly).constructor)()),
      ];
    },
    withoutGlobals() {
      return [
        typeof TextEncoder,
        typeof crypto,
        typeof URL,
        typeof Request,
        errorName(() => Date.now()),
        errorName(() => Math.random()),
      ];
    },
  });
}
