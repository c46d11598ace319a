// TextEncoder and TextDecoder (WHATWG Encoding standard, UTF-8 only, as in browsers) for vats
// that ask for them and for the bodies of http.js; QuickJS has neither.

/** Encodes `source` as UTF-8 into `target` as far as whole code points fit. */
const encodeUtf8 = (source, target) => {
  let read = 0;
  let written = 0;
  const { length } = source;
  while (read < length) {
    let point = source.charCodeAt(read);
    let units = 1;
    if (point >= 0xd800 && point <= 0xdfff) {
      const next = read + 1 < length ? source.charCodeAt(read + 1) : 0;
      if (point <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else {
        point = 0xfffd;
      }
    }
    const size = point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
    if (written + size > target.length) {
      break;
    }
    if (size === 1) {
      target[written] = point;
    } else {
      const lead = [0, 0, 0xc0, 0xe0, 0xf0][size];
      target[written] = lead | (point >> (6 * (size - 1)));
      for (let i = 1; i < size; i += 1) {
        target[written + i] = 0x80 | ((point >> (6 * (size - 1 - i))) & 0x3f);
      }
    }
    written += size;
    read += units;
  }
  return { read, written };
};

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    const source = String(input);
    const target = new Uint8Array(source.length * 3);
    return target.slice(0, encodeUtf8(source, target).written);
  }

  encodeInto(source, target) {
    if (!(target instanceof Uint8Array)) {
      throw TypeError('encodeInto needs a Uint8Array');
    }
    return encodeUtf8(String(source), target);
  }
}

const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'];

/**
 * A Uint8Array over the bytes of a BufferSource (an ArrayBuffer or any view of one), sharing
 * them; undefined for anything else.
 */
export const viewOf = source => {
  if (source instanceof ArrayBuffer) {
    return new Uint8Array(source);
  }
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  }
  return undefined;
};

/** The bytes of a BufferSource. */
const bytesOf = input => {
  if (input === undefined) {
    return new Uint8Array(0);
  }
  const view = viewOf(input);
  if (view === undefined) {
    throw TypeError('decode needs an ArrayBuffer or an ArrayBufferView');
  }
  return view;
};

/** The WHATWG Encoding standard's UTF-8 decoder, with its state kept across streamed calls. */
export class TextDecoder {
  #fatal;
  #ignoreBOM;
  #needed = 0;
  #seen = 0;
  #point = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #started = false;

  constructor(label = 'utf-8', options = {}) {
    if (!UTF8_LABELS.includes(String(label).trim().toLowerCase())) {
      throw RangeError(`The "${label}" encoding is not supported (only UTF-8 is)`);
    }
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return 'utf-8';
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input, options = {}) {
    const bytes = bytesOf(input);
    const points = [];
    const emit = point => {
      if (!this.#started && !this.#ignoreBOM && point === 0xfeff) {
        this.#started = true;
        return;
      }
      this.#started = true;
      points.push(point);
    };
    const fail = () => {
      this.#reset();
      if (this.#fatal) {
        this.#started = false;
        throw TypeError('The encoded data was not valid UTF-8');
      }
      emit(0xfffd);
    };
    for (let i = 0; i < bytes.length; i += 1) {
      const byte = bytes[i];
      if (this.#needed === 0) {
        if (byte <= 0x7f) {
          emit(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          this.#needed = 1;
          this.#point = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#needed = 2;
          this.#point = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#needed = 3;
          this.#point = byte & 0x7;
        } else {
          fail();
        }
      } else if (byte < this.#lower || byte > this.#upper) {
        // The byte starts over: it is read again after the error.
        fail();
        i -= 1;
      } else {
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#point = (this.#point << 6) | (byte & 0x3f);
        this.#seen += 1;
        if (this.#seen === this.#needed) {
          const point = this.#point;
          this.#reset();
          emit(point);
        }
      }
    }
    if (!options.stream) {
      if (this.#needed !== 0) {
        fail();
      }
      this.#started = false;
    }
    let text = '';
    for (let i = 0; i < points.length; i += 4096) {
      text += String.fromCodePoint(...points.slice(i, i + 4096));
    }
    return text;
  }

  #reset() {
    this.#needed = 0;
    this.#seen = 0;
    this.#point = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }
}
