// A vat for the platform `fs` tests: reads what its `platformConfig.fs` allows.
import { Far } from '@endo/far';

const failure = error => [error.message, error.code ?? null];

export function buildRootObject() {
  return Far('root', {
    bootstrap() {
      return 'ready';
    },
    shape() {
      if (typeof fs === 'undefined') {
        return ['undefined'];
      }
      return [typeof fs, Object.keys(fs), Object.keys(fs.promises ?? {}), Object.isFrozen(fs)];
    },
    exists(path) {
      try {
        return fs.existsSync(path);
      } catch (error) {
        return failure(error);
      }
    },
    async read(path, encoding) {
      return fs.promises.readFile(path, encoding).then(
        got => (typeof got === 'string' ? got : [...got]),
        failure,
      );
    },
    async hoard(path, times) {
      // Keeps every copy: the host makes each one, so each must count against the vat.
      const kept = [];
      for (let i = 0; i < times; i += 1) {
        kept.push(await fs.promises.readFile(path));
      }
      return kept.reduce((sum, bytes) => sum + bytes.byteLength, 0);
    },
    async access(path) {
      return fs.promises.access(path).then(() => 'ok', failure);
    },
  });
}
