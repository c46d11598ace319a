// The Fetch classes keep their objects' state in WeakMaps rather than private fields: the
// classes read one another's (a Request's Headers and body, the host's fetch a Request's parts),
// which private fields cannot share.

/** A reader of the state `map` holds for an object, throwing as WebIDL does for another `this`. */
export const slotReader = (map, kind) => object => {
  const state = map.get(object);
  if (state === undefined) {
    throw TypeError(`Illegal invocation: not a ${kind}`);
  }
  return state;
};
