// whatwg-url makes a TextEncoder and a TextDecoder as it loads, from globals QuickJS lacks:
// ours, for that moment only (url.js removes them again).
import { TextDecoder, TextEncoder } from './text.js';

globalThis.TextEncoder = TextEncoder;
globalThis.TextDecoder = TextDecoder;
