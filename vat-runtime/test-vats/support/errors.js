// What the test vats report of a call that should fail: the name of the error it threw.

export const errorName = thunk => {
  try {
    thunk();
    return 'no error';
  } catch (error) {
    return error.name;
  }
};

export const rejection = async thunk => {
  try {
    await thunk();
    return 'no error';
  } catch (error) {
    return error.name;
  }
};
