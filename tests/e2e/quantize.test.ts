/**
 * `lutra quantize` end to end: every corpus model quantizes with w8a8 through the CLI, ONNX
 * Runtime runs the exported QDQ model, and both the interpreter and ORT stay close to the float
 * model on the calibration data; bad input is a one-line error and writes nothing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataDir, writeTensor } from '../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../src/ir/tensor.js';
import { run } from '../../src/interp/interpreter.js';
import { loadModel } from '../../src/load.js';
import { fromOrt, toOrt } from '../../src/ort.js';
import { OutputComparison } from '../../src/quant/metrics.js';
import { firstRows } from '../../src/quant/samples.js';
import { lutra, userError } from '../helpers/cli.js';
import { CORPUS, HAS_SHARED, corpusModels } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-quantize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Cmp { cosine: number; sqnrDb: number | null; agreement: number }
interface Summary {
  weights: unknown[];
  activations: unknown[];
  weightBytes: { before: number; after: number };
  check: { ref: Cmp; ort?: Cmp; ortVsRef?: Cmp; ortNote?: string };
}

/** Output cosine vs float, in the interpreter, that each model must reach with w8a8. */
const MIN_COSINE: Record<string, number> = {
  // outlier channels ×30–100 wreck per-tensor activation ranges: the next issue's passes fix this
  char_lm_outlier: 0.9,
  digits_vit_outlier: 0.8,
  // random inputs in [-1, 1) and one calibration sample (public models come without real data)
  'public/mobilenetv2-035-128': 0.99,
  'public/speechcommands-squeezenet': 0.99,
};

/**
 * ONNX Runtime's fused fp16 QDQ kernels on CPU disagree with its own unoptimized run of the same
 * model (microsoft/onnxruntime#22741, #24711); checked separately below with optimizations off.
 */
const ORT_OPTIMIZED_DIVERGES = new Set(['public/squeezenet1.1-fp16']);

describe.skipIf(!HAS_SHARED)('lutra quantize --recipe w8a8 on every corpus model', () => {
  for (const { name, dir } of corpusModels()) {
    it(name, async () => {
      const calib = existsSync(join(dir, 'calib')) ? join(dir, 'calib') : join(dir, 'data');
      const out = join(tmp, `${name.replace('/', '_')}.w8a8.onnx`);
      const r = await lutra('quantize', join(dir, 'model.onnx'), '--recipe', 'w8a8', '--calib', calib, '--samples', '16', '-o', out, '--json');
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as Summary;
      expect(existsSync(out)).toBe(true);
      expect(s.weights.length).toBeGreaterThan(0);
      expect(s.weightBytes.after).toBeLessThan(s.weightBytes.before * 0.6);
      expect(s.check.ref.cosine).toBeGreaterThan(MIN_COSINE[name] ?? 0.999);
      expect(s.check.ort, 'onnxruntime-node is a dev dependency: the export must have run').toBeDefined();
      if (!ORT_OPTIMIZED_DIVERGES.has(name)) {
        expect(s.check.ort!.cosine).toBeGreaterThan((MIN_COSINE[name] ?? 0.999) - 0.005);
        expect(s.check.ortVsRef!.cosine).toBeGreaterThan(0.999);
      }
    }, 120_000);
  }

  it('public/squeezenet1.1-fp16: unoptimized ORT agrees with the interpreter on the fp16 QDQ export', async () => {
    const out = join(tmp, 'public_squeezenet1.1-fp16.w8a8.onnx');
    if (!existsSync(out)) return; // the quantize case above failed and said why
    const data = readDataDir(join(CORPUS, 'public/squeezenet1.1-fp16/data'))[0]!.inputs;
    const ref = run(loadModel(out).graph, data)[0]!;
    const s = await ort.InferenceSession.create(out, { graphOptimizationLevel: 'disabled' });
    const o = fromOrt((await s.run({ [s.inputNames[0]!]: toOrt(ort, data[0]!) }))[s.outputNames[0]!]!);
    const c = new OutputComparison();
    c.add(ref, o);
    expect(c.result().cosine).toBeGreaterThan(0.9999);
  });
});

describe.skipIf(!HAS_SHARED)('lutra quantize: mixed precision', () => {
  const model = join(CORPUS, 'digits_mlp/model.onnx');
  const calib = join(CORPUS, 'digits_mlp/calib');
  const data = join(CORPUS, 'digits_mlp/eval');

  it('--sensitivity measures every planned layer alone, most sensitive first', async () => {
    const r = await lutra('quantize', model, '--recipe', 'w8a8', '--calib', calib, '--sensitivity', '--sensitivity-data', data, '--skip-check', '-o', join(tmp, 'sens.onnx'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = (JSON.parse(r.stdout) as { sensitivity: { layers: { layer: string; sqnr: number }[]; all: { sqnr: number } } }).sensitivity;
    expect(s.layers.map((l) => l.layer).sort()).toEqual(['/net/net.0/Gemm', '/net/net.2/Gemm', '/net/net.4/Gemm']);
    const sqnrs = s.layers.map((l) => l.sqnr);
    expect([...sqnrs].sort((a, b) => a - b)).toEqual(sqnrs);
    // one layer alone loses less than all of them together
    expect(Math.min(...sqnrs)).toBeGreaterThan(s.all.sqnr);
  });

  it('--size-budget picks per-layer formats that fit, and the saved recipe reproduces the model', async () => {
    const budget = 0.075; // between all-int4 (≈0.048 MB) and all-int8 (≈0.089 MB) weights
    const saved = join(tmp, 'chosen.json');
    const r = await lutra('quantize', model, '--recipe', 'w8a8', '--calib', calib, '--size-budget', String(budget), '--save-recipe', saved,
      '--sensitivity-data', data, '--skip-check', '-o', join(tmp, 'mixed.onnx'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { weightBytes: { after: number }; sizeBudget: { totalBytes: number; chosen: { candidate: string }[] } };
    expect(s.sizeBudget.totalBytes).toBeLessThanOrEqual(budget * 1e6);
    expect(s.weightBytes.after).toBe(s.sizeBudget.totalBytes);
    expect(new Set(s.sizeBudget.chosen.map((c) => c.candidate)).size).toBe(2); // a real mix
    const again = await lutra('quantize', model, '--recipe', saved, '--calib', calib, '--skip-check', '-o', join(tmp, 'mixed2.onnx'), '--json');
    expect((JSON.parse(again.stdout) as { weightBytes: { after: number } }).weightBytes.after).toBe(s.weightBytes.after);
  });

  it('a budget below the smallest reachable size is an error that says the minimum', async () => {
    await userError(/budget .*(minimum|smallest)/i, 'quantize', model, '--recipe', 'w8a8', '--calib', calib, '--size-budget', '0.001', '-o', join(tmp, 'never.onnx'));
    expect(existsSync(join(tmp, 'never.onnx'))).toBe(false);
  });
});

describe.skipIf(!HAS_SHARED)('lutra quantize --report-baseline: SQNR per layer before and after a migration', () => {
  it('digits_vit_outlier: smooth-quant lifts every post-norm layer above its plain-w8a8 SQNR', async () => {
    const dir = join(CORPUS, 'digits_vit_outlier');
    const report = join(tmp, 'smooth.json');
    const r = await lutra('quantize', join(dir, 'model.onnx'), '--recipe', 'w8a8-smoothquant', '--calib', join(dir, 'calib'), '--samples', '16',
      '--report', report, '--report-baseline', 'w8a8', '--skip-check', '-o', join(tmp, 'smooth.onnx'));
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { layers: { name: string; error: { sqnr: number | null } }[]; baseline: { recipe: string; layers: Record<string, number | null> } };
    expect(rep.baseline.recipe).toBe('w8a8');
    const qkv = rep.layers.filter((l) => /attn\/qkv\/MatMul$|fc1\/MatMul$|head\/Gemm$/.test(l.name));
    expect(qkv).toHaveLength(9);
    for (const l of qkv) expect(l.error.sqnr!, l.name).toBeGreaterThan(rep.baseline.layers[l.name]! + 20);
  }, 120_000);

  it('digits_vit_outlier: llm-int8 layers are compared with the split float layers, not with the whole originals', async () => {
    const dir = join(CORPUS, 'digits_vit_outlier');
    const report = join(tmp, 'llmint8.json');
    const r = await lutra('quantize', join(dir, 'model.onnx'), '--recipe', 'w8a8-llmint8', '--calib', join(dir, 'calib'), '--samples', '16',
      '--report', report, '--skip-check', '-o', join(tmp, 'llmint8.onnx'));
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { layers: { name: string; error: { sqnr: number | null } }[] };
    // the split layers keep their names but compute X[:, R]·W[R]: against the unsplit float layer they would read ~16 dB
    const split = rep.layers.filter((l) => /attn\/qkv\/MatMul$|fc1\/MatMul$|head\/Gemm$/.test(l.name));
    expect(split).toHaveLength(9);
    for (const l of split) expect(l.error.sqnr!, l.name).toBeGreaterThan(30);
  }, 120_000);
});

describe.skipIf(!HAS_SHARED)('lutra quantize: bad input', () => {
  const model = join(CORPUS, 'digits_mlp/model.onnx');
  const calib = join(CORPUS, 'digits_mlp/calib');

  /** A user error that leaves no output file behind. */
  async function failsCleanly(re: RegExp, ...argv: string[]): Promise<void> {
    const out = join(tmp, `fail-${Math.random().toString(36).slice(2)}.onnx`);
    await userError(re, ...argv, '-o', out);
    expect(existsSync(out)).toBe(false);
  }

  it('a missing calibration directory', async () => {
    await failsCleanly(/nope: calibration directory not found/, 'quantize', model, '--recipe', 'w8a8', '--calib', join(tmp, 'nope'));
  });

  it('no --calib for a recipe with static activations', async () => {
    await failsCleanly(/recipe 'w8a8' quantizes activations statically .* pass --calib/, 'quantize', model, '--recipe', 'w8a8');
  });

  it('calibration tensors of the wrong shape or dtype name the data set and the input', async () => {
    const bad = join(tmp, 'bad-calib');
    mkdirSync(join(bad, 'test_data_set_0'), { recursive: true });
    writeTensor(join(bad, 'test_data_set_0', 'input_0.pb'), Tensor.from('f32', [2, 63], new Float32Array(126)), 'input');
    await failsCleanly(/calibration data set test_data_set_0: .*input.*64/, 'quantize', model, '--recipe', 'w8a8', '--calib', bad);
    const badType = join(tmp, 'bad-calib-type');
    mkdirSync(join(badType, 'test_data_set_0'), { recursive: true });
    writeTensor(join(badType, 'test_data_set_0', 'input_0.pb'), Tensor.from('i64', [2, 64], new BigInt64Array(128)), 'input');
    await failsCleanly(/calibration data set test_data_set_0: .*(i64|dtype|element type)/, 'quantize', model, '--recipe', 'w8a8', '--calib', badType);
  });

  it('NaN in calibration data names the tensor', async () => {
    const nan = join(tmp, 'nan-calib');
    mkdirSync(nan, { recursive: true });
    const x = new Float32Array(128);
    x[5] = NaN;
    writeTensor(join(nan, 'input_0.pb'), new Tensor('f32', [2, 64], x), 'input');
    await failsCleanly(/graph input 'input' contains NaN/, 'quantize', model, '--recipe', 'w8a8', '--calib', nan);
  });

  it('a recipe file with an unknown key names the key', async () => {
    const file = join(tmp, 'typo.json');
    writeFileSync(file, JSON.stringify({ name: 'typo', defaults: { weights: { granulrity: 'channel' } } }));
    await failsCleanly(/typo\.json: unknown key 'defaults\.weights\.granulrity' \(did you mean 'granularity'\?\)/, 'quantize', model, '--recipe', file, '--calib', calib);
  });

  it('an unknown recipe name lists the built-in ones', async () => {
    await failsCleanly(/unknown recipe 'w9a9' \(built-in recipes: w8a8, w8a8-llmint8/, 'quantize', model, '--recipe', 'w9a9', '--calib', calib);
  });

  it('--samples must be a positive integer', async () => {
    await failsCleanly(/--samples must be a positive integer/, 'quantize', model, '--recipe', 'w8a8', '--calib', calib, '--samples', '0');
  });

  it('nothing is left in the output directory after a failure', () => {
    expect(readdirSync(tmp).filter((f) => f.startsWith('fail-') || f.includes('.tmp'))).toEqual([]);
  });
});

describe.skipIf(!HAS_SHARED)('lutra opt --calib: migration passes run on their own', () => {
  it('smooth-quant folds into the norms and keeps the float outputs', async () => {
    const dir = join(CORPUS, 'digits_vit_outlier');
    const out = join(tmp, 'smoothed.onnx');
    const r = await lutra('opt', join(dir, 'model.onnx'), '--passes', 'smooth-quant', '--calib', join(dir, 'calib'), '--samples', '8', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/smooth-quant: 9 sites migrated \(9 norm\)/);
    const x = firstRows(readDataDir(join(dir, 'eval'))[0]!.inputs[0]!, 16);
    const [a, b] = [run(loadModel(join(dir, 'model.onnx')).graph, [x])[0]!, run(loadModel(out).graph, [x])[0]!];
    const c = new OutputComparison();
    c.add(a, b);
    expect(c.result().maxAbsErrRel).toBeLessThan(1e-5);
  });

  it('a migration pass without calibration data says how to give it', async () => {
    await userError(/smooth-quant.*calib/, 'opt', join(CORPUS, 'digits_vit/model.onnx'), '--passes', 'smooth-quant');
  });
});
