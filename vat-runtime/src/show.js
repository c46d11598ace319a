// How a value a vat logs is written into the daemon's log: strings as they are, bigints as
// `5n`, errors with their stack (its first line is `Name: message`), anything else as JSON (with
// bigints inside as "5n"), or as `String(value)` when JSON has no text for it.

/** The text of one logged value. */
export const show = value => {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'bigint') {
    return `${value}n`;
  }
  if (value instanceof Error) {
    let stack;
    try {
      stack = value.stack;
    } catch {
      // A hostile getter: the name and message are enough.
    }
    return typeof stack === 'string' && stack !== ''
      ? stack
      : `${value.name}: ${value.message}`;
  }
  try {
    const text = JSON.stringify(value, (_key, v) =>
      typeof v === 'bigint' ? `${v}n` : v,
    );
    return text === undefined ? String(value) : text;
  } catch {
    try {
      return String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
};

/** The text of one log call's arguments, separated by spaces (as console.log writes them). */
export const showAll = args => args.map(show).join(' ');
