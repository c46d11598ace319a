// The platform endowments of spec §3.2 (`platformConfig`), as the reference's Node platform
// makes them: `fs`, with only what the config turns on (`existsSync`, `promises.readFile`,
// `promises.access`), confined to the vat's `rootDir` by the host (src/vat/fs.rs). A path the
// host refuses fails as the reference's caveats do (`fs.readFile: Path … is outside allowed
// root …`); an I/O error keeps Node's words and `code` (`ENOENT: no such file or directory,
// open '…'`). `readFile` gives a Uint8Array (Node's Buffer is one), or a string for the
// encodings utf8, latin1, base64 and hex.

import { TextDecoder } from './text.js';

/** The error the host's refusal `error` means, for operation `name`. */
const fsError = (name, error) => {
  const text = error instanceof Error ? error.message : String(error);
  const code = /^(E[A-Z]+): /.exec(text);
  if (code) {
    return Object.defineProperty(Error(text), 'code', { value: code[1], enumerable: true });
  }
  return Error(`fs.${name}: ${text}`, { cause: error });
};

/**
 * `bytes` as a string of one char per byte, a slice at a time: a call may not take more than
 * 65,535 arguments in QuickJS, and a file may hold more bytes.
 */
const binaryString = bytes => {
  let text = '';
  for (let at = 0; at < bytes.length; at += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return text;
};

const encodings = {
  utf8: bytes => new TextDecoder().decode(bytes),
  latin1: binaryString,
  base64: bytes => btoa(binaryString(bytes)),
  hex: bytes => [...bytes].map(b => b.toString(16).padStart(2, '0')).join(''),
};
encodings['utf-8'] = encodings.utf8;
encodings.binary = encodings.latin1;

const decoderFor = options => {
  const encoding = typeof options === 'string' ? options : options?.encoding;
  if (encoding === undefined || encoding === null) {
    return bytes => bytes;
  }
  const decode = encodings[String(encoding).toLowerCase()];
  if (!decode) {
    throw TypeError(`readFile: encoding ${encoding} is not supported`);
  }
  return decode;
};

/** The platform endowments for a vat with `config` (its VatConfig), over `host`. */
export const makePlatform = (host, config) => {
  const options = config.platformConfig?.fs;
  if (!options) {
    return {};
  }
  const run = (name, thunk) => {
    try {
      return thunk();
    } catch (error) {
      throw fsError(name, error);
    }
  };
  const fs = {};
  if (options.existsSync) {
    fs.existsSync = path => run('existsSync', () => host.fsExists(String(path)));
  }
  const promises = {};
  if (options.promises?.readFile) {
    promises.readFile = async (path, encoding) => {
      const decode = decoderFor(encoding);
      return decode(new Uint8Array(run('readFile', () => host.fsRead(String(path)))));
    };
  }
  if (options.promises?.access) {
    promises.access = async path => {
      run('access', () => host.fsAccess(String(path)));
    };
  }
  if (options.promises) {
    fs.promises = promises;
  }
  return harden({ fs });
};
