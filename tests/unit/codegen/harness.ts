/** @fileoverview Compile a graph for WASM and run it in-process next to the reference interpreter. */
import { expect } from 'vitest';
import { compileWasm } from '../../../src/codegen/index.js';
import { manifestOf } from '../../../src/codegen/artifact.js';
import type { Program } from '../../../src/codegen/program.js';
import { type AnyArray, instantiateArtifact } from '../../../src/runtime/executor.js';
import { run } from '../../../src/interp/interpreter.js';
import { Builder, Graph, Model, Tensor, tensorType, verify, type Attrs } from '../../../src/ir/index.js';
import { uniform } from '../../helpers/random.js';

/** Run a compiled program through the runtime on `inputs` (in graph-input order). */
export async function runProgram(p: Program, wasm: Uint8Array, inputs: readonly Tensor[]): Promise<Tensor[]> {
  const m = await instantiateArtifact(manifestOf(p, 'model.wasm'), wasm, p.weights);
  const feeds = Object.fromEntries(p.inputs.map((io, i) => [io.name, inputs[i]!.data as AnyArray]));
  const outs = await m.run(feeds);
  const samples = m.manifest.batch ? inputs[0]!.shape[0]! : 0;
  return p.outputs.map((o) => new Tensor(o.dtype === 'bool' || o.dtype === 'f16' ? o.dtype : (o.dtype as 'f32'), m.manifest.batch ? [samples, ...o.shape.slice(1)] : [...o.shape], outs[o.name]!));
}

/** max |a − b| / max |b| over all outputs. */
export function relError(got: readonly Tensor[], want: readonly Tensor[]): number {
  let diff = 0;
  let scale = 1e-30;
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.shape).toEqual(w.shape);
    for (let j = 0; j < g.size; j++) { diff = Math.max(diff, Math.abs(g.get(j) - w.get(j))); scale = Math.max(scale, Math.abs(w.get(j))); }
  });
  return diff / scale;
}

/** Seeded f32 input of `shape` in [-2, 2). */
export const rand = (seed: number, shape: number[]): Tensor => Tensor.from('f32', shape, uniform(seed, shape.reduce((a, b) => a * b, 1), -2, 2));

/** A graph built by `build`, verified. */
export function graphOf(build: (b: Builder) => void): Graph {
  const b = new Builder(new Graph('g'));
  build(b);
  verify(b.graph);
  return b.graph;
}

/** Compile `g` (batch 1 unless the inputs are static), run it and the interpreter; returns the error and the program. */
export async function check(g: Graph, inputs: readonly Tensor[], batch = 1): Promise<{ err: number; program: Program }> {
  const { program, wasm } = compileWasm(new Model(g), { batch, dims: {} }, { optimize: false });
  const got = await runProgram(program, wasm.binary, inputs);
  return { err: relError(got, run(g, inputs)), program };
}

/** One-node graph of `op` over runtime inputs `xs` and constants `consts`. */
export function opGraph(op: string, xs: readonly Tensor[], consts: readonly (Tensor | null)[] = [], attrs: Attrs = {}): Graph {
  return graphOf((b) => {
    const ins = xs.map((t, i) => b.input(`x${i}`, tensorType(t.dtype, t.shape)));
    const cs = consts.map((t, i) => (t ? b.constant(`c${i}`, t) : null));
    b.output(b.node(`onnx.${op}`, [...ins, ...cs], attrs).outputs[0]!);
  });
}
