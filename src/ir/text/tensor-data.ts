/**
 * @fileoverview Tensor contents in the text IR: the element list of `dense<[…]>`. The raw bytes
 * of the `weights { }` section come from src/ir/raw-data.ts.
 */
import { isBig, isFloat } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { formatFloat } from '../types.js';

export { rawByteLength, tensorFromBytes, tensorToBytes } from '../raw-data.js';

/** One element as `dense<[…]>` prints it: floats via formatFloat, ints as digits, bools as true/false. */
export function formatElement(t: Tensor, i: number): string {
  if (t.dtype === 'bool') return t.data[i] ? 'true' : 'false';
  if (isBig(t.dtype)) return String(t.data[i]);
  return isFloat(t.dtype) ? formatFloat(t.get(i)) : String(t.get(i));
}

/** `dense<[1.0, 2.0]>`. */
export function formatDense(t: Tensor): string {
  const items: string[] = [];
  for (let i = 0; i < t.size; i++) items.push(formatElement(t, i));
  return `dense<[${items.join(', ')}]>`;
}

