// A vat for the IO channel tests: it keeps the services bootstrap gave it (IO channels among
// them) in baggage, so they survive a daemon restart, and reads and writes lines through them.
import { E, Far } from '@endo/far';

export function buildRootObject(_vatPowers, _parameters, baggage) {
  const channel = name => {
    const services = baggage.get('services');
    if (!(name in services)) {
      throw Error(`no service named ${name}`);
    }
    return services[name];
  };

  return Far('root', {
    bootstrap(_vats, services) {
      baggage.init('services', services);
      return Object.keys(services).sort().join(',');
    },
    read(name) {
      return E(channel(name)).read();
    },
    write(name, text) {
      return E(channel(name)).write(text);
    },
    // Writes back every line read, upper-cased, until the client goes; answers how many.
    async echo(name) {
      let count = 0;
      for (;;) {
        const line = await E(channel(name)).read();
        if (line === null) {
          return count;
        }
        await E(channel(name)).write(line.toUpperCase());
        count += 1;
      }
    },
    // Reads until the client goes; answers every line read.
    async readUntilNull(name) {
      const lines = [];
      for (;;) {
        const line = await E(channel(name)).read();
        if (line === null) {
          return lines;
        }
        lines.push(line);
      }
    },
    // Starts `count` reads at once; answers them in order once all are settled.
    readMany(name, count) {
      const reads = [];
      for (let i = 0; i < count; i += 1) {
        reads.push(E(channel(name)).read());
      }
      return Promise.all(reads);
    },
    // Answers the message of an IO method's failure.
    async failure(name, method, ...args) {
      try {
        await E(channel(name))[method](...args);
        return 'no error';
      } catch (error) {
        return error.message;
      }
    },
  });
}
