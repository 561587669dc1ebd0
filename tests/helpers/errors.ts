/** @fileoverview The LutraError a call throws (any other outcome fails the test). */
import { LutraError } from '../../src/ir/diagnostics.js';

/** Run `f` and return the LutraError it throws; other errors propagate, no error fails. */
export function errorOf(f: () => unknown): LutraError {
  try {
    f();
  } catch (e) {
    if (e instanceof LutraError) return e;
    throw e;
  }
  throw new Error('expected a LutraError');
}
