/**
 * @fileoverview Counting samples across data sets: the batch dimension is axis 0 of the graph
 * inputs whose first dimension is symbolic (`batch`); a data set without one is one sample.
 * Calibration, evaluation and reports stop after `--samples`, cutting the last batch.
 */
import type { Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** Which graph inputs carry the batch dimension (a symbolic first dim). */
export function batchedInputs(g: Graph): boolean[] {
  return g.inputs.map((v) => typeof v.type.shape?.[0] === 'string');
}

/** The first `n` rows of a tensor along axis 0. */
export function firstRows(t: Tensor, n: number): Tensor {
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(t.dtype, [n, ...t.shape.slice(1)], t.data.slice(0, n * row));
}

/** A data set's inputs limited to `remaining` samples: the (possibly cut) inputs and how many samples they hold. */
export function takeSamples(batched: readonly boolean[], inputs: Tensor[], remaining: number): { inputs: Tensor[]; n: number; cut: boolean } {
  const bi = batched.findIndex((b, i) => b && (inputs[i]?.rank ?? 0) > 0);
  const n = bi < 0 ? 1 : inputs[bi]!.shape[0]!;
  if (n <= remaining) return { inputs, n, cut: false };
  return { inputs: inputs.map((t, i) => (batched[i] && t.rank > 0 ? firstRows(t, remaining) : t)), n: remaining, cut: true };
}
