/**
 * @fileoverview Einsum: the equation parser (`parseEinsum`, shared by type inference and the
 * kernel) and the op definition.
 */
import { registerOp } from '../registry.js';
import type { Dim } from '../types.js';
import { need, unknownRank } from './shape-common.js';

/** A parsed Einsum equation: one label list per input and the output's; '.' labels stand for the broadcast ('...') dims. */
export interface EinsumSpec {
  readonly inputs: string[][];
  readonly output: string[];
}

/**
 * Parse `eq` for inputs of the given ranks. An ellipsis expands to labels `.0`, `.1`, ... (right
 * aligned, shared by all operands); without `->` the output is the ellipsis then the labels used
 * once, alphabetically.
 */
export function parseEinsum(eq: string, ranks: readonly number[]): EinsumSpec {
  const s = eq.replace(/\s+/g, '');
  const [lhs, rhs] = s.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) throw new Error(`equation "${eq}" has ${terms.length} operands, the node ${ranks.length}`);
  let ell = 0;
  const explicitCount = (t: string) => t.replace('...', '').length;
  terms.forEach((t, i) => { if (t.includes('...')) ell = Math.max(ell, ranks[i]! - explicitCount(t)); });
  const ellLabels = (n: number) => Array.from({ length: n }, (_, k) => `.${ell - n + k}`);
  const expand = (t: string, rank?: number): string[] => {
    const [a, b] = t.includes('...') ? t.split('...') as [string, string] : [t, undefined];
    if (b === undefined) return [...a];
    const n = rank === undefined ? ell : rank - a.length - b.length;
    if (n < 0) throw new Error(`operand "${t}" does not fit its rank`);
    return [...a, ...ellLabels(n), ...b];
  };
  const inputs = terms.map((t, i) => {
    const labels = expand(t, ranks[i]);
    if (labels.length !== ranks[i]) throw new Error(`operand "${t}" has ${labels.length} labels for rank ${ranks[i]}`);
    return labels;
  });
  let output: string[];
  if (rhs !== undefined) output = expand(rhs);
  else {
    const count = new Map<string, number>();
    for (const l of inputs.flat()) if (!l.startsWith('.')) count.set(l, (count.get(l) ?? 0) + 1);
    output = [...ellLabels(ell), ...[...count].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  }
  return { inputs, output };
}

registerOp({
  name: 'onnx.Einsum', summary: 'Einstein summation over the equation (implicit output, ..., repeated labels)',
  inputs: [1, Infinity], outputs: [1, 1], attrs: { equation: { kind: 'string' } }, since: 12,
  infer: (ctx) => {
    const ts = ctx.inputs.map((_, i) => need(ctx, i));
    if (ts.some((t) => !t.shape)) return unknownRank(ts[0]!);
    let spec: EinsumSpec;
    try {
      spec = parseEinsum(ctx.attr<string>('equation'), ts.map((t) => t.shape!.length));
    } catch (e) {
      return ctx.fail((e as Error).message);
    }
    const size = new Map<string, Dim>();
    spec.inputs.forEach((labels, i) => labels.forEach((l, k) => {
      const d = ts[i]!.shape![k]!;
      const prev = size.get(l);
      if (prev === undefined || prev === 1 || prev === '?') size.set(l, d);
    }));
    return [{ dtype: ts[0]!.dtype, shape: spec.output.map((l) => size.get(l) ?? ctx.fail(`output label ${l} is not in any input`)) }];
  },
});
