// A vat for the fetch tests: each method makes requests with the `fetch` endowment (and the
// Fetch classes) and answers with what it got.
import { Far } from '@endo/far';

const failure = error => [error.name, error.message, error.cause ? error.cause.message : null];

export function buildRootObject() {
  return Far('root', {
    bootstrap() {
      return 'ready';
    },
    async get(url) {
      const response = await fetch(url, { headers: { 'x-vat': 'fetcher' } });
      return [
        response.status,
        response.ok,
        response.headers.get('x-answer'),
        await response.text(),
        response.url,
        response.redirected,
      ];
    },
    async post(url, value) {
      const response = await fetch(
        new Request(url, { method: 'POST', body: JSON.stringify(value) }),
      );
      return response.json();
    },
    async refused(url) {
      return fetch(url).then(() => 'fetched', failure);
    },
    async aborted(url) {
      const controller = new AbortController();
      const answer = fetch(url, { signal: controller.signal }).then(() => 'fetched', failure);
      controller.abort();
      return answer;
    },
  });
}
