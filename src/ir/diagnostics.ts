/**
 * @fileoverview User errors are diagnostics: a stable code, a one-line message naming the
 * file / node / op at fault, and a location. Broken invariants are plain Errors (assertions).
 * The CLI prints a LutraError as one line and exits non-zero; anything else is a bug.
 */

export type DiagnosticCode =
  | 'io' // a file cannot be read or written
  | 'parse' // protobuf / text IR / JSON syntax
  | 'model' // structurally invalid model (dangling input, cycle, missing initializer)
  | 'unsupported' // op, opset or dtype Lutra does not support
  | 'type' // type / shape inference failure
  | 'verify' // IR verifier rule violated
  | 'input' // user-supplied data does not fit the model
  | 'usage' // bad command line / option
  | 'pass' // a pass or pipeline failed
  | 'runtime'; // evaluation error (e.g. bad index at run time)

export class LutraError extends Error {
  constructor(
    readonly code: DiagnosticCode,
    message: string,
    /** `file:line:col`, a node description, or a file path. */
    readonly location?: string,
  ) {
    super(location ? `${location}: ${message}` : message);
    this.name = 'LutraError';
  }
}

export const isLutraError = (e: unknown): e is LutraError => e instanceof LutraError;

/** Throw a user-facing diagnostic. */
export function fail(code: DiagnosticCode, message: string, location?: string): never {
  throw new LutraError(code, message, location);
}

/** Assert an internal invariant (a failure is a Lutra bug, not a user error). */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`internal error: ${message}`);
}
