// The consoles of a vat's runtime: each hands its lines to the host with the source they come
// from (`runtime`: SES and our supervisor; `console`: the vat's own `console`; `liveslots`:
// liveslots' internal lines), which the daemon logs apart (src/vat/quickjs/host.rs).

import { showAll } from './show.js';

/** A console whose lines the host logs as coming from `source`. */
export const makeConsole = (host, source) => {
  const line =
    level =>
    (...args) =>
      host.log(source, level, showAll(args), '');
  return {
    debug: line('debug'),
    log: line('log'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    trace: line('debug'),
  };
};
