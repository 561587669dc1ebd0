/**
 * Every fusion rule's FileCheck input (tests/lit/codegen/*.lir, one graph per `// -----` chunk)
 * compiled for WASM and run against the reference interpreter on seeded inputs, so each fused
 * kernel the golden tests pin is also checked numerically.
 *
 * Float graphs: within 1e-5 relative (the kernels differ from the interpreter only in float
 * summation order). Quantized graphs (q dialect): activation codes and the i32 accumulator are
 * exact, but a q.quantize after a GEMM may land one step off where the reference value lies
 * within float rounding of a half-step tie (docs/codegen.md § Quantized kernels); such a
 * graph's output may then differ by what one code step of an intermediate moves it, so it is
 * held to 1e-5 on all but a few elements and to cosine ≥ 0.9999 overall.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../../src/codegen/index.js';
import { run } from '../../../src/interp/interpreter.js';
import { type Graph, Model, type Tensor } from '../../../src/ir/index.js';
import { parseModel } from '../../../src/ir/text/index.js';
import { verifyParsed } from '../../../src/load.js';
import { splitChunks } from '../../../src/testing/lit.js';
import { ROOT } from '../../helpers/shared.js';
import { rand, runProgram } from './harness.js';

const DIR = join(ROOT, 'tests/lit/codegen');
const TOL = 1e-5;

interface Case {
  readonly name: string;
  readonly graph: Graph;
  /** The kernel count the chunk's FileCheck lines expect (`for wasm: N kernel`), if they say. */
  readonly kernels?: number;
}

/** Each `// -----` chunk of each `.lir` file under tests/lit/codegen, parsed and verified. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const f of readdirSync(DIR).filter((e) => e.endsWith('.lir')).sort()) {
    const path = join(DIR, f);
    for (const chunk of splitChunks(readFileSync(path, 'utf8'))) {
      const model = parseModel(chunk.text, path);
      verifyParsed(model);
      const count = /^\s*\/\/\s*CHECK:.*for wasm: (\d+) kernel/m.exec(chunk.text);
      out.push({
        name: `${relative(ROOT, path)}:${chunk.first} @${model.graph.name}`,
        graph: model.graph,
        ...(count ? { kernels: Number(count[1]) } : {}),
      });
    }
  }
  return out;
}

/** Seeded f32 inputs in [-2, 2) for every graph input (the fixtures' inputs are static f32). */
function inputsOf(g: Graph, seed: number): Tensor[] {
  return g.inputs.map((v, i) => {
    const shape = v.type.shape;
    expect(v.type.dtype, `input ${v.name}`).toBe('f32');
    expect(shape?.every((d) => typeof d === 'number'), `input ${v.name} has a static shape`).toBe(true);
    return rand(seed * 31 + i, shape as number[]);
  });
}

const isQuantized = (g: Graph): boolean => g.nodes.some((n) => n.op.startsWith('q.'));

/** Compile and run `g` and the interpreter; per-element relative errors (|got − want| / max |want|) and the cosine. */
async function compare(g: Graph, inputs: readonly Tensor[]): Promise<{ errs: number[]; cosine: number; kernels: number }> {
  const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} }, { optimize: false });
  const got = await runProgram(program, wasm.binary, inputs);
  const want = run(g, inputs);
  const errs: number[] = [];
  let dot = 0;
  let gg = 0;
  let ww = 0;
  got.forEach((t, i) => {
    const w = want[i]!;
    expect(t.shape).toEqual(w.shape);
    let scale = 1e-30;
    for (let j = 0; j < w.size; j++) scale = Math.max(scale, Math.abs(w.get(j)));
    for (let j = 0; j < t.size; j++) {
      const a = t.get(j);
      const b = w.get(j);
      errs.push(Math.abs(a - b) / scale);
      dot += a * b;
      gg += a * a;
      ww += b * b;
    }
  });
  return { errs, cosine: gg === 0 && ww === 0 ? 1 : dot / Math.sqrt(gg * ww), kernels: program.dispatches.length };
}

describe('fusion rules: tests/lit/codegen graphs match the reference interpreter', () => {
  const all = cases();

  it('finds the fusion fixtures', () => {
    expect(all.length).toBeGreaterThan(0);
  });

  for (const c of all) {
    it(c.name, async () => {
      for (const seed of [1, 2]) {
        const { errs, cosine, kernels } = await compare(c.graph, inputsOf(c.graph, seed));
        if (c.kernels !== undefined) expect(kernels, 'kernel count (as the FileCheck lines expect)').toBe(c.kernels);
        if (isQuantized(c.graph)) {
          expect(errs.filter((e) => e >= TOL).length, 'elements off by more than float rounding').toBeLessThanOrEqual(Math.ceil(errs.length / 50));
          expect(cosine).toBeGreaterThanOrEqual(0.9999);
        } else {
          expect(Math.max(...errs)).toBeLessThan(TOL);
        }
      }
    });
  }
});
