// Errors named as the DOMExceptions browsers throw; QuickJS has no DOMException.

/** `error` with `name` as an own property (SES has frozen the prototypes' `name`). */
export const named = (error, name) => Object.defineProperty(error, 'name', { value: name });

/** A DOMException-like error: an `Error` named `name`. */
export const domException = (name, message) => named(Error(message), name);
