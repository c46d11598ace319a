// vatPowers.logger as reference vats use it (cf. ocap-kernel's kernel-test logger-vat): a
// sub-logger with tags, every level, detached methods, data after the message, and the vat's
// own console beside it.
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

export function buildRootObject(vatPowers, parameters) {
  const name = parameters?.name ?? 'logger';
  const logger = vatPowers.logger.subLogger({ tags: ['test'] });
  logger.log(`built ${name}`);
  return makeDefaultExo('root', {
    bootstrap() {
      return 'logger ready';
    },
    logEverything(marker) {
      const tagged = logger.subLogger({ tags: ['deeper', 'test'] });
      const { warn } = tagged;
      tagged.debug(`${marker} debug`);
      tagged.info(`${marker} info`);
      tagged.log(`${marker} log`, { n: 1 }, 2n);
      warn(`${marker} warn`);
      tagged.error(`${marker} error`, Error('logged error'));
      vatPowers.logger.subLogger('bare').info(`${marker} string tag`);
      console.log(`${marker} console`);
      const data = { mutable: true };
      logger.info(`${marker} hardens`, data);
      return Object.isFrozen(data);
    },
    transports(marker) {
      const seen = [];
      const sub = logger.subLogger({ tags: ['own'], transports: [entry => seen.push(entry)] });
      sub.warn(`${marker} to both`, 7);
      return seen.map(({ level, tags, message, data }) => ({ level, tags, message, data }));
    },
    flood(lines) {
      const line = 'x'.repeat(1000);
      for (let i = 0; i < lines; i += 1) {
        logger.log(line);
      }
      return lines;
    },
  });
}
