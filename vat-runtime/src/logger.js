// `vatPowers.logger`, with the shape and behaviour of the logger ocap-kernel's Node vat worker
// passes there (a `@metamask/logger` `Logger`): `log`, `debug`, `info`, `warn` and `error`,
// which work detached (`const { log } = logger`), and `subLogger(options)`, where `options` is
// a tag or `{ tags, transports }`; a sub-logger keeps its parent's tags and transports and adds
// its own (each once). A call makes the entry `{ level, tags, message, data }` (the first
// argument is the message, the rest the data), hardened as the reference hardens it, and hands
// it to every transport: the vat's own ones, and ours, which gives the host the level, the
// tags and the text (`show.js`) to log with the vat's id, apart from its console and from
// liveslots (src/vat/quickjs/host.rs).

import { showAll } from './show.js';

const LEVELS = ['debug', 'info', 'log', 'warn', 'error'];

/** `list` without repeats, in first-seen order. */
const unique = list => list.filter((item, index) => list.indexOf(item) === index);

/** Options `{ tags, transports }` with `more`'s added to `base`'s. */
const merge = (base, more) => ({
  tags: unique([...base.tags, ...(more.tags ?? [])]),
  transports: unique([...base.transports, ...(more.transports ?? [])]),
});

const makeLoggerWith = options => {
  const dispatch = (level, args) => {
    const [message, ...data] = args;
    const entry = harden({ level, tags: [...options.tags], message, data });
    for (const transport of options.transports) {
      transport(entry);
    }
  };
  const logger = {
    subLogger: (more = {}) =>
      makeLoggerWith(merge(options, typeof more === 'string' ? { tags: [more] } : more)),
  };
  for (const level of LEVELS) {
    logger[level] = (...args) => dispatch(level, args);
  }
  return harden(logger);
};

/** The root logger of a vat: no tags, one transport to the host. */
export const makeVatLogger = host => {
  const toHost = ({ level, tags, message, data }) => {
    const args = message === undefined ? data : [message, ...data];
    host.log('logger', level, showAll(args), tags.map(String).join(', '));
  };
  return makeLoggerWith({ tags: [], transports: [toHost] });
};
