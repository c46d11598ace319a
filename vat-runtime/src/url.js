// URL and URLSearchParams from whatwg-url (the URL Standard's reference implementation), for
// vats that ask for them or for `Headers`, `Request` or `Response` (http.js uses them).
// Evaluated only in such a vat's runtime, when it starts (the host's `loadUrl`), so other vats
// do not pay for its Unicode tables.
import './url-globals.js';
import { URL, URLSearchParams } from 'whatwg-url';

delete globalThis.TextEncoder;
delete globalThis.TextDecoder;

globalThis.ocapUrl = harden({ URL, URLSearchParams });
