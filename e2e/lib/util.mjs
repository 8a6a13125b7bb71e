// Small polling helpers. The suite never sleeps to synchronise: it polls a
// condition with a deadline, or (to prove that something does NOT happen)
// checks that a condition keeps holding for an observation window.

export const DEFAULT_TIMEOUT_MS = 5000;

const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls fn (sync or async) until it returns a truthy value, which is returned.
 * Throws after `timeout` ms with `message` (a string or a function giving one,
 * so the error can show the state observed at the deadline).
 */
export async function waitFor(fn, timeout = DEFAULT_TIMEOUT_MS, message = 'condition') {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const text = typeof message === 'function' ? message() : message;
      const suffix = lastError ? ` (last error: ${lastError.message ?? lastError})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${text}${suffix}`);
    }
    await tick(20);
  }
}

/**
 * Asserts that fn keeps returning a truthy value for `window` ms (an
 * observation window used to prove the absence of a reconnect, an echo, ...).
 */
export async function holds(fn, window, message = 'condition') {
  const deadline = Date.now() + window;
  while (Date.now() < deadline) {
    if (!(await fn())) {
      const text = typeof message === 'function' ? message() : message;
      throw new Error(`condition stopped holding: ${text}`);
    }
    await tick(25);
  }
}

/** Runs a promise-returning fn against a deadline. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let counter = 0;
/** A unique channel/user name per call, so tests never share state. */
export function unique(prefix = 'x') {
  counter += 1;
  return `${prefix}${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}
