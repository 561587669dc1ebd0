/**
 * @fileoverview Shape arithmetic shared by type inference and the interpreter.
 */
import type { Dim, Shape } from './types.js';

/** Numpy-style multidirectional broadcast of static or symbolic shapes; undefined if incompatible. */
export function broadcastShapes(shapes: readonly Shape[]): Dim[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = new Array(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const a = out[i + off]!;
      const b = s[i]!;
      if (a === b || b === 1) continue;
      if (a === 1) { out[i + off] = b; continue; }
      if (a === '?' || b === '?') {
        // an unknown dim against a known one: the known one wins unless it is 1 (handled above)
        out[i + off] = a === '?' ? b : a;
        continue;
      }
      if (typeof a === 'number' && typeof b === 'number') return undefined;
      // two different symbols, or symbol vs number: can only be equal at run time
      out[i + off] = typeof a === 'number' ? a : typeof b === 'number' ? b : a;
    }
  }
  return out;
}

/** Static broadcast for the interpreter: throws on mismatch. */
export function broadcastStatic(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const a = out[i + off]!;
      const b = s[i]!;
      if (a === b || b === 1) continue;
      if (a === 1) { out[i + off] = b; continue; }
      throw new Error(`shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
    }
  }
  return out;
}

/** Normalize a possibly negative axis against `rank`; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}
