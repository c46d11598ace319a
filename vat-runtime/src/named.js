// QuickJS has no DOMException: errors browsers throw as one are ordinary errors carrying its name.

/** `error` named `name`, as an own property because SES has frozen the error prototypes. */
export const named = (error, name) => Object.defineProperty(error, 'name', { value: name });
