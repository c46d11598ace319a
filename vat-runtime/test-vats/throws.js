// A vat whose buildRootObject throws: its launch must fail cleanly.
export function buildRootObject() {
  throw Error('buildRootObject exploded');
}
