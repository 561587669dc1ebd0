/**
 * @fileoverview Writes the eval set the example page fetches: `eval.json` with the per-sample
 * input shape, the flat float32 inputs and the int labels, read from a corpus `eval/` folder
 * (ONNX test-data layout: test_data_set_0/input_0.pb and labels.pb). JSON keeps the page free of
 * a protobuf parser; the e2e test (tests/e2e/web.test.ts) uses the same function.
 *
 *   npx tsx examples/web/prepare.ts ../shared/corpus/digits_cnn/eval examples/web/eval.json
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDataDir, readTensor } from '../../src/frontends/onnx/testdata.js';

/** What the page reads: `count` samples of `shape` each, flattened, and their labels. */
export interface EvalJson {
  readonly shape: number[];
  readonly count: number;
  readonly inputs: number[];
  readonly labels: number[];
}

/** The eval set under `evalDir` (its first data set's first input, and labels.pb). */
export function evalJson(evalDir: string): EvalJson {
  const x = readDataDir(evalDir)[0]!.inputs[0]!;
  const labels = readTensor(join(evalDir, 'labels.pb'));
  const count = x.shape[0]!;
  if (labels.size !== count) throw new Error(`${evalDir}: ${count} inputs but ${labels.size} labels`);
  // Nine significant digits round-trip any float32 exactly, with shorter text than a double's.
  const inputs = Array.from(x.data as Float32Array, (v) => Number(v.toPrecision(9)));
  return { shape: x.shape.slice(1), count, inputs, labels: Array.from({ length: count }, (_, i) => labels.get(i)) };
}

/** Write `evalJson(evalDir)` to `out`. */
export function writeEvalJson(evalDir: string, out: string): EvalJson {
  const data = evalJson(evalDir);
  writeFileSync(out, JSON.stringify(data));
  return data;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [evalDir, out] = process.argv.slice(2);
  if (!evalDir || !out) {
    console.error('usage: npx tsx examples/web/prepare.ts <corpus-model>/eval <out>/eval.json');
    process.exit(2);
  }
  const d = writeEvalJson(evalDir, out);
  console.log(`wrote ${out}: ${d.count} samples of shape [${d.shape.join(', ')}]`);
}
