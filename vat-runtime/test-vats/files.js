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
    async access(path) {
      return fs.promises.access(path).then(() => 'ok', failure);
    },
  });
}
