// Errors as vat authors meet them: stacks that name the vat's own functions, bundle, line and
// column, and V8's words for the commonest TypeErrors.
import { makeDefaultExo } from '@metamask/kernel-utils/exo';

function deepestHelper(what) {
  throw Error(`boom: ${what}`); // STACK-MARKER
}

function middleHelper(what) {
  return deepestHelper(what);
}

/** What `thunk` throws, as `Name: message`. */
const failure = thunk => {
  try {
    thunk();
    return 'no error';
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
};

export function buildRootObject() {
  return makeDefaultExo('root', {
    bootstrap() {
      return 'errors ready';
    },
    stack() {
      try {
        middleHelper('stack');
      } catch (error) {
        return error.stack;
      }
      return 'no error';
    },
    fail(what) {
      middleHelper(what);
    },
    typeErrors() {
      const empty = {};
      let nothing;
      const nil = null;
      return [
        failure(() => nothing.field),
        failure(() => nil.field),
        failure(() => {
          nothing.field = 1;
        }),
        failure(() => empty.missing.deeper),
        failure(() => empty.notAFunction()),
      ];
    },
  });
}
