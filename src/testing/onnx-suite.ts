/**
 * @fileoverview Runs the ONNX backend conformance data through the importer and the reference
 * interpreter, comparing like ONNX's own backend tests (assert_allclose rtol=1e-3, atol=1e-7;
 * dtypes and shapes must match; integers and bools exactly; NaN equals NaN). Shared by the e2e
 * tests and the CLI.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isLutraError } from '../ir/diagnostics.js';
import { Graph } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { loadOnnx } from '../frontends/onnx/import.js';
import { readDataDir, readTensor } from '../frontends/onnx/testdata.js';
import { getKernel } from '../interp/kernel.js';
import { run } from '../interp/interpreter.js';

/** The outcome of one conformance test. */
export interface SuiteResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Why it failed (first mismatch or error) or was skipped (unsupported ops / dtypes). */
  reason?: string;
}

/** Every test's outcome plus the counts a CI line prints. */
export interface SuiteReport {
  results: SuiteResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** Which tests to run and how to report progress. */
export interface SuiteOptions {
  /** Run only tests whose name matches. */
  filter?: RegExp;
  onProgress?: (done: number, total: number, name: string) => void;
}

/** Relative tolerance of ONNX's backend test runner. */
export const RTOL = 1e-3;
/** Absolute tolerance of ONNX's backend test runner. */
export const ATOL = 1e-7;

interface SuiteCase {
  name: string;
  model: string;
  /** Test-data directory (readDataDir layout) or, for light/ models, the expected output file. */
  data: { dir: string } | { output: string };
}

/** Every test in `dir`: `<test>/model.onnx` + `test_data_set_*`, or light/'s `<name>.onnx` + `<name>_output_0.pb`. */
function discover(dir: string): SuiteCase[] {
  const out: SuiteCase[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry.endsWith('.onnx') && existsSync(path.replace(/\.onnx$/, '_output_0.pb'))) {
      out.push({ name: entry.replace(/\.onnx$/, ''), model: path, data: { output: path.replace(/\.onnx$/, '_output_0.pb') } });
    } else if (statSync(path).isDirectory() && existsSync(join(path, 'model.onnx'))
      && readdirSync(path).some((f) => f.startsWith('test_data_set_'))) {
      out.push({ name: entry, model: join(path, 'model.onnx'), data: { dir: path } });
    }
  }
  return out;
}

/** Run every test of one suite directory (node/, simple/, light/, ...). */
export function runOnnxSuite(dir: string, opts: SuiteOptions = {}): SuiteReport {
  const cases = discover(dir).filter((c) => !opts.filter || opts.filter.test(c.name));
  const results: SuiteResult[] = [];
  cases.forEach((c, i) => {
    results.push({ name: c.name, ...runCase(c) });
    opts.onProgress?.(i + 1, cases.length, c.name);
  });
  const count = (s: SuiteResult['status']) => results.filter((r) => r.status === s).length;
  return { results, passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

type Outcome = Omit<SuiteResult, 'name'>;

function runCase(c: SuiteCase): Outcome {
  let graph: Graph;
  try {
    graph = loadOnnx(c.model).graph;
  } catch (e) {
    if (isLutraError(e) && e.code === 'unsupported') return { status: 'skipped', reason: e.message };
    return { status: 'failed', reason: `import: ${(e as Error).message}` };
  }
  const noKernel = [...opsOf(graph)].filter((op) => !getKernel(op));
  if (noKernel.length > 0) return { status: 'skipped', reason: `no interpreter kernel for ${noKernel.join(', ')}` };
  if ('output' in c.data && graph.inputs.length > 0) {
    return { status: 'skipped', reason: `no inputs stored for its ${graph.inputs.length} graph input(s)` };
  }
  try {
    const sets = 'dir' in c.data ? readDataDir(c.data.dir) : [{ name: '', inputs: [], outputs: [readTensor(c.data.output)] }];
    for (const set of sets) {
      const actual = run(graph, set.inputs);
      const where = set.name ? `${set.name}: ` : '';
      if (actual.length < set.outputs.length) return { status: 'failed', reason: `${where}${actual.length} outputs, expected ${set.outputs.length}` };
      for (let k = 0; k < set.outputs.length; k++) {
        const why = compareTensors(actual[k]!, set.outputs[k]!);
        if (why) return { status: 'failed', reason: `${where}output ${k} ('${graph.outputs[k]?.name}'): ${why}` };
      }
    }
    return { status: 'passed' };
  } catch (e) {
    return { status: 'failed', reason: isLutraError(e) ? e.message : `internal error: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}` };
  }
}

/** Every op used by a graph and its subgraphs. */
function opsOf(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    into.add(n.op);
    for (const a of Object.values(n.attrs)) if (a instanceof Graph) opsOf(a, into);
  }
  return into;
}

/** The first difference between `actual` and `expected` under the backend-test rules; undefined when they match. */
export function compareTensors(actual: Tensor, expected: Tensor, rtol = RTOL, atol = ATOL): string | undefined {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return `shape [${actual.shape.join(',')}], expected [${expected.shape.join(',')}]`;
  }
  const exact = !(actual.data instanceof Float32Array || actual.data instanceof Float64Array);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < actual.size; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    let ok: boolean;
    if (exact) ok = a === e;
    else {
      const x = a as number;
      const y = e as number;
      ok = x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= atol + rtol * Math.abs(y);
    }
    if (!ok) { bad++; if (first < 0) first = i; }
  }
  if (bad === 0) return undefined;
  const at = unravel(first, expected.shape);
  return `${bad} of ${actual.size} elements differ; first at [${at.join(',')}]: ${String(actual.data[first])}, expected ${String(expected.data[first])}`;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    out[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return out;
}
