/** @fileoverview One benchmark measurement in its own process; prints {ms, peakMB} as JSON. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadOnnx } from '../src/frontends/onnx/import.js';
import { readDataDir } from '../src/frontends/onnx/testdata.js';
import { run } from '../src/interp/interpreter.js';

const [kind, modelPath, dataDir] = process.argv.slice(2) as [string, string, string];
const peakMB = () => process.resourceUsage().maxRSS / 1024;

async function main(): Promise<{ ms: number; peakMB: number }> {
  if (kind === 'import') {
    const t0 = performance.now();
    loadOnnx(modelPath);
    return { ms: performance.now() - t0, peakMB: peakMB() };
  }
  if (kind === 'ort-load') {
    const t0 = performance.now();
    await ort.InferenceSession.create(readFileSync(modelPath), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    return { ms: performance.now() - t0, peakMB: peakMB() };
  }
  const [set] = readDataDir(dataDir);
  if (!set) throw new Error(`no data in ${dataDir}`);
  if (kind === 'interp') {
    const model = loadOnnx(modelPath);
    const t0 = performance.now();
    run(model.graph, set.inputs);
    return { ms: performance.now() - t0, peakMB: peakMB() };
  }
  const session = await ort.InferenceSession.create(readFileSync(modelPath), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  session.inputNames.forEach((n, i) => {
    const t = set.inputs[i]!;
    const type = t.dtype === 'i64' ? 'int64' : 'float32';
    feeds[n] = new ort.Tensor(type, t.data as Float32Array, [...t.shape]);
  });
  await session.run(feeds); // warm-up
  const t0 = performance.now();
  await session.run(feeds);
  return { ms: performance.now() - t0, peakMB: peakMB() };
}

main().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });
