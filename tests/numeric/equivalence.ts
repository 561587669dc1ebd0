/**
 * Helpers for numeric pass tests: run a pipeline and check the model computes the same outputs
 * (max |Δ| ≤ rtol · max |reference| per output) on corpus eval inputs or seeded random inputs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import { readDataDir } from '../../src/frontends/onnx/testdata.js';
import { run } from '../../src/interp/interpreter.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { runPipeline } from '../../src/passes/index.js';
import { CORPUS } from '../helpers/shared.js';

/** Eval batches are cut to this many samples to keep the interpreter fast. */
const MAX_BATCH = 8;

/** Op name → count over the graph and its subgraphs. */
export function opCounts(g: Graph): Record<string, number> {
  const c: Record<string, number> = {};
  const visit = (h: Graph): void => {
    for (const n of h.nodes) {
      c[n.op] = (c[n.op] ?? 0) + 1;
      for (const a of Object.values(n.attrs)) if (a instanceof Graph) visit(a);
    }
  };
  visit(g);
  return c;
}

/** A corpus model (`public/…` for public ones) and the inputs of its first eval data set. */
export function corpusCase(name: string): { model: Model; inputs: Tensor[] } {
  const dir = join(CORPUS, name);
  const [set] = readDataDir(existsSync(join(dir, 'eval')) ? join(dir, 'eval') : join(dir, 'data'));
  const model = loadOnnx(join(dir, 'model.onnx'));
  const inputs = set!.inputs.map((t, i) => {
    const batched = typeof model.graph.inputs[i]?.type.shape?.[0] === 'string' && t.rank > 0 && t.shape[0]! > MAX_BATCH;
    if (!batched) return t;
    const per = t.size / t.shape[0]!;
    return new Tensor(t.dtype, [MAX_BATCH, ...t.shape.slice(1)], t.data.slice(0, MAX_BATCH * per) as typeof t.data);
  });
  return { model, inputs };
}

/** Deterministic values in [-scale, scale). */
export function seeded(shape: readonly number[], seed: number, scale = 2): Tensor {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
  return Tensor.from('f32', shape, v);
}

/** Run `pipeline` (verifying after each pass) and expect unchanged outputs; returns the op counts before and after. */
export async function expectEquivalent(model: Model, pipeline: string, inputs: readonly Tensor[], rtol = 1e-5):
Promise<{ before: Record<string, number>; after: Record<string, number> }> {
  const before = opCounts(model.graph);
  const reference = run(model.graph, inputs);
  await runPipeline(model, pipeline, { verifyEach: true });
  const outputs = run(model.graph, inputs);
  reference.forEach((want, k) => {
    const got = outputs[k]!;
    expect(got.shape).toEqual(want.shape);
    const e = want.toNumbers();
    const a = got.toNumbers();
    let scale = Number.MIN_VALUE;
    for (const y of e) if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y));
    let worst = 0;
    e.forEach((y, i) => { worst = Math.max(worst, Math.abs(a[i]! - y)); });
    expect(worst, `output ${k} (%${model.graph.outputs[k]?.name}) after ${pipeline}`).toBeLessThanOrEqual(rtol * scale);
  });
  return { before, after: opCounts(model.graph) };
}
