import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDataDir, readTensor, writeTensor } from '../../src/frontends/onnx/testdata.js';
import { saveOnnx } from '../../src/frontends/onnx/export.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel, saveModel } from '../../src/load.js';
import { loadOrt } from '../../src/ort.js';
import { type EvalReport, evaluate } from '../../src/quant/evaluate.js';
import { lutra, userError } from '../helpers/cli.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';

const HAS_ORT = (await loadOrt()) !== undefined;
if (!HAS_ORT) console.warn('[lutra tests] onnxruntime-node is not installed: the ORT parts of the eval tests are skipped');

const MLP = join(CORPUS, 'digits_mlp/model.onnx');
const MLP_EVAL = join(CORPUS, 'digits_mlp/eval');
const MLP_LABELS = join(MLP_EVAL, 'labels.pb');
/** digits_mlp's accuracy on its 360 eval samples (corpus README: 0.9778). */
const MLP_ACC = 352 / 360;

const tmp = mkdtempSync(join(tmpdir(), 'lutra-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `lutra eval … --json`, parsed. */
async function evalJson(...argv: string[]): Promise<EvalReport> {
  const r = await lutra('eval', ...argv, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as EvalReport;
}


/** Run `f` with LUTRA_NO_ORT=1, as if onnxruntime-node were not installed. */
async function withoutOrt<T>(f: () => Promise<T>): Promise<T> {
  const before = process.env.LUTRA_NO_ORT;
  process.env.LUTRA_NO_ORT = '1';
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.LUTRA_NO_ORT;
    else process.env.LUTRA_NO_ORT = before;
  }
}

describe.skipIf(!HAS_SHARED)('lutra eval: a model against itself', () => {
  it('digits_mlp: accuracy 0.9778 on 360 samples, agreement 1, SQNR inf, on every backend', async () => {
    const r = await evalJson(MLP, MLP, '--data', MLP_EVAL, '--labels', MLP_LABELS);
    expect(r).toMatchObject({
      reference: { bytes: 342186 }, candidate: { bytes: 342186 }, sizeRatio: 1,
      output: { index: 0, name: 'logits' }, metric: 'acc', samples: 360, dataSets: 1,
    });
    expect(r.backends.map((b) => b.backend)).toEqual(HAS_ORT ? ['ref', 'ort'] : ['ref']);
    for (const b of r.backends) {
      expect(b.reference.metric, b.backend).toBe(MLP_ACC);
      expect(b.candidate.metric, b.backend).toBe(MLP_ACC);
      expect(b.comparison).toEqual({ rows: 360, agreement: 1, cosine: 1, sqnrDb: 'inf', maxAbsErr: 0, maxAbsErrRel: 0 });
    }
  });

  it('prints a table labelling every number with its backend, then the output and sizes', async () => {
    const r = await lutra('eval', MLP, MLP, '--data', MLP_EVAL, '--labels', MLP_LABELS, '--backend', 'ref');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend +model +top-1 acc +agreement +cosine +SQNR dB +max err +rel err +time$/m);
    expect(r.stdout).toMatch(/^ref +reference +0\.9778 +- +- +- +- +- +[\d.]+ m?s$/m);
    expect(r.stdout).toMatch(/^ref +candidate +0\.9778 +1\.0000 +1\.000000 +inf +0 +0 +[\d.]+ m?s$/m);
    expect(r.stdout).toMatch(/^output +'logits' \(output 0\), 360 samples in 1 data set, labels /m);
    expect(r.stdout).toMatch(/^sizes +reference 342,186 B \(334\.2 KiB\), candidate 342,186 B \(334\.2 KiB\), candidate\/reference 1\.000$/m);
  });

  it.skipIf(!HAS_ORT)('char_lm on ORT: 2.795 bits per char on 32×128 tokens', async () => {
    const dir = join(CORPUS, 'char_lm');
    const r = await evalJson(join(dir, 'model.onnx'), join(dir, 'model.onnx'), '--data', join(dir, 'eval'), '--labels', join(dir, 'eval/labels.pb'), '--backend', 'ort');
    expect(r.metric).toBe('bpc');
    expect(r.backends.map((b) => b.backend)).toEqual(['ort']);
    const [ort] = r.backends;
    expect(ort!.reference.metric).toBeCloseTo(2.795, 2);
    expect(Math.abs(ort!.reference.metric! - 2.795)).toBeLessThan(0.005);
    expect(ort!.comparison).toMatchObject({ rows: 32 * 128, agreement: 1, sqnrDb: 'inf' });
  });
});

describe.skipIf(!HAS_SHARED)('lutra eval: a perturbed candidate', () => {
  const onnx = join(tmp, 'perturbed.onnx');
  const lir = join(tmp, 'perturbed.lir');
  beforeAll(() => {
    // Every 7th weight of the first layer ×1.3: close to the reference, but some argmax flips.
    const m = loadModel(MLP);
    const g = m.graph;
    const w = g.constants.find((c) => g.constValue(c)!.rank === 2)!;
    const t = g.constValue(w)!;
    g.weights.set(w.weight!, Tensor.from('f32', t.shape, t.toNumbers().map((x, i) => (i % 7 === 0 ? x * 1.3 : x))));
    saveOnnx(m, onnx);
    saveModel(m, lir);
  });

  it('gives agreement below 1, a finite SQNR and the same numbers on ref and ORT (within 1e-4)', async () => {
    const r = await evalJson(MLP, onnx, '--data', MLP_EVAL, '--labels', MLP_LABELS);
    const ref = r.backends[0]!;
    expect(ref.backend).toBe('ref');
    expect(ref.reference.metric).toBe(MLP_ACC);
    expect(ref.comparison.agreement).toBeLessThan(1);
    expect(ref.comparison.agreement).toBeGreaterThan(0.95);
    expect(ref.comparison.sqnrDb).toBeGreaterThan(10);
    expect(ref.comparison.sqnrDb).toBeLessThan(60);
    expect(ref.comparison.cosine).toBeLessThan(1);
    expect(ref.comparison.maxAbsErr).toBeGreaterThan(0);
    expect(r.sizeRatio).toBeGreaterThan(0.9);
    if (!HAS_ORT) return;
    const ort = r.backends[1]!;
    expect(ort.backend).toBe('ort');
    expect(ort.reference.metric).toBeCloseTo(ref.reference.metric!, 4);
    expect(ort.candidate.metric).toBeCloseTo(ref.candidate.metric!, 4);
    for (const k of ['agreement', 'cosine', 'sqnrDb', 'maxAbsErr', 'maxAbsErrRel'] as const) {
      expect(Math.abs(ort.comparison[k] - ref.comparison[k]), k).toBeLessThan(1e-4);
    }
  });

  it('measures a .lir candidate like its ONNX export (ORT runs the export)', async () => {
    const backend = HAS_ORT ? 'both' : 'ref';
    const a = await evalJson(MLP, onnx, '--data', MLP_EVAL, '--backend', backend);
    const b = await evalJson(MLP, lir, '--data', MLP_EVAL, '--backend', backend);
    expect(b.metric).toBeNull();
    expect(b.backends.map((x) => x.backend)).toEqual(a.backends.map((x) => x.backend));
    b.backends.forEach((x, i) => {
      expect(x.comparison.agreement).toBe(a.backends[i]!.comparison.agreement);
      expect(x.comparison.sqnrDb).toBeCloseTo(a.backends[i]!.comparison.sqnrDb, 4);
    });
  });
});

describe.skipIf(!HAS_SHARED)('lutra eval: a compiled artifact as the candidate (runs on wasm)', () => {
  const fp32 = join(tmp, 'art-fp32');
  const w8a8 = join(tmp, 'art-w8a8');
  const cnn = join(tmp, 'art-cnn');
  beforeAll(async () => {
    for (const argv of [
      ['compile', MLP, '-o', fp32],
      ['compile', MLP, '--recipe', 'w8a8', '--calib', join(CORPUS, 'digits_mlp/calib'), '-o', w8a8],
      ['compile', join(CORPUS, 'digits_cnn/model.onnx'), '-o', cnn],
    ]) {
      const r = await lutra(...argv);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  it('fp32: agreement 1 and SQNR > 100 dB against the float model on every reference backend', async () => {
    const r = await evalJson(MLP, fp32, '--data', MLP_EVAL, '--labels', MLP_LABELS);
    expect(r).toMatchObject({ candidate: { path: fp32 }, output: { index: 0, name: 'logits' }, metric: 'acc', samples: 360, dataSets: 1 });
    expect(r.backends.map((b) => [b.backend, b.candidateBackend])).toEqual(HAS_ORT ? [['ref', 'wasm'], ['ort', 'wasm']] : [['ref', 'wasm']]);
    for (const b of r.backends) {
      expect(b.reference.metric, b.backend).toBe(MLP_ACC);
      expect(b.candidate.metric, b.backend).toBe(MLP_ACC);
      expect(b.comparison.rows).toBe(360);
      expect(b.comparison.agreement, b.backend).toBe(1);
      const sqnr = b.comparison.sqnrDb as number | string; // "inf" when bit-identical
      expect(sqnr === 'inf' ? Infinity : Number(sqnr), b.backend).toBeGreaterThan(100);
    }
    // manifest.json + model.wasm + weights.bin: the float weights and a little more.
    expect(r.sizeRatio).toBeGreaterThan(0.99);
    expect(r.sizeRatio).toBeLessThan(1.05);
    expect(r.notes.join('\n')).toMatch(/compiled wasm artifact/);
  });

  it('w8a8: accuracy within 0.5 points of the float model, a quarter of its size', async () => {
    const r = await evalJson(MLP, w8a8, '--data', MLP_EVAL, '--labels', MLP_LABELS, '--backend', 'ref');
    const [b] = r.backends;
    expect(b).toMatchObject({ backend: 'ref', candidateBackend: 'wasm' });
    expect(b!.reference.metric).toBe(MLP_ACC);
    expect(Math.abs(b!.candidate.metric! - MLP_ACC)).toBeLessThanOrEqual(0.005);
    expect(b!.comparison.agreement).toBeGreaterThan(0.99);
    expect(b!.comparison.sqnrDb).toBeGreaterThan(30);
    expect(r.sizeRatio).toBeLessThan(0.35);
  });

  it('prints the candidate rows with backend wasm', async () => {
    const r = await lutra('eval', MLP, w8a8, '--data', MLP_EVAL, '--labels', MLP_LABELS, '--backend', 'ref');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ref +reference +0\.9778 +- +- +- +- +- +[\d.]+ m?s$/m);
    expect(r.stdout).toMatch(/^wasm +candidate +0\.9\d{3} +0\.9\d{3} +0\.99\d{4} +\d+\.\d +/m);
    expect(r.stdout).toMatch(/^note +the candidate is a compiled wasm artifact: it ran on its runtime \(wasm\)/m);
  });

  it('an artifact compiled from another model is one error line naming the artifact', async () => {
    await userError(/art-cnn: artifact and reference have different inputs: reference \(input: f32\[batch,64\]\), artifact \(input: f32\[batch,1,16,16\]\)/,
      'eval', MLP, cnn, '--data', MLP_EVAL);
  });

  it('a directory that is not an artifact is one error line', async () => {
    const dir = join(tmp, 'not-an-artifact');
    mkdirSync(dir, { recursive: true });
    await userError(/not-an-artifact: is a directory without manifest\.json: expected a \.onnx or \.lir file, or an artifact directory written by lutra compile/,
      'eval', MLP, dir, '--data', MLP_EVAL);
  });
});

describe.skipIf(!HAS_SHARED)('evaluate (library)', () => {
  const split = join(tmp, 'split');
  beforeAll(() => {
    // The 360 eval rows as two data sets of 200 and 160: labels are consumed in data-set order.
    const x = readDataDir(MLP_EVAL)[0]!.inputs[0]!;
    const row = x.shape[1]!;
    [[0, 200], [200, 160]].forEach(([s, n], i) => {
      mkdirSync(join(split, `test_data_set_${i}`), { recursive: true });
      writeTensor(join(split, `test_data_set_${i}/input_0.pb`), new Tensor('f32', [n!, row], x.data.slice(s! * row, (s! + n!) * row)));
    });
  });

  it('consumes labels across data sets by each set\'s batch size', async () => {
    const r = await evaluate(MLP, MLP, split, { labels: MLP_LABELS, backend: 'ref' });
    expect(r).toMatchObject({ samples: 360, dataSets: 2, metric: 'acc' });
    expect(r.backends[0]!.reference.metric).toBe(MLP_ACC);
    expect(r.backends[0]!.comparison.sqnrDb).toBe(Infinity);
  });

  it('--samples cuts the evaluation (and the labels it needs) at N rows', async () => {
    const one = await evaluate(MLP, MLP, split, { labels: MLP_LABELS, backend: 'ref', samples: 100 });
    expect(one).toMatchObject({ samples: 100, dataSets: 1 });
    const two = await evaluate(MLP, MLP, split, { labels: MLP_LABELS, backend: 'ref', samples: 250 });
    expect(two).toMatchObject({ samples: 250, dataSets: 2 });
    expect(two.backends[0]!.comparison.rows).toBe(250);
  });

  it('without ORT, `both` runs ref only and says so', async () => {
    const r = await withoutOrt(() => lutra('eval', MLP, MLP, '--data', MLP_EVAL));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ref +candidate /m);
    expect(r.stdout).not.toMatch(/^ort /m);
    expect(r.stdout).toMatch(/^note +onnxruntime-node is not installed: ran the reference interpreter \(ref\) only$/m);
  });
});

describe.skipIf(!HAS_SHARED)('lutra eval: bad input is one error line naming the thing at fault', () => {
  const labels = (n: number): string => {
    const p = join(tmp, `labels-${n}.pb`);
    const all = readTensor(MLP_LABELS).toNumbers();
    writeTensor(p, Tensor.from('i64', [n], Array.from({ length: n }, (_, i) => all[i % all.length]!)));
    return p;
  };

  it('a missing data directory', async () => {
    await userError(/no-data: data directory not found/, 'eval', MLP, MLP, '--data', join(tmp, 'no-data'));
  });

  it('labels that do not match the rows', async () => {
    await userError(/labels-359\.pb: 359 label rows do not cover the data: data set test_data_set_0 needs rows 0\.\.359/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--labels', labels(359), '--backend', 'ref');
    await userError(/labels-361\.pb: 361 label rows but the data has 360 rows/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--labels', labels(361), '--backend', 'ref');
  });

  it('an output index out of range or an unknown output name', async () => {
    await userError(/model\.onnx: output index 1 is out of range: the model has 1 output: logits/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--output', '1');
    await userError(/model\.onnx: no output named 'probs' \(the model has 1 output: logits\)/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--output', 'probs');
  });

  it('reference and candidate with different inputs', async () => {
    await userError(/digits_cnn\/model\.onnx: reference and candidate take different inputs: reference \(input: f32\[batch,64\]\), candidate \(input: f32\[batch,1,16,16\]\)/,
      'eval', MLP, join(CORPUS, 'digits_cnn/model.onnx'), '--data', MLP_EVAL);
  });

  it('reference and candidate with different output shapes', async () => {
    const p = join(tmp, 'relu.lir');
    writeFileSync(p, 'graph @relu(%input: f32[batch,64]) -> f32[batch,64] {\n  %y = onnx.Relu(%input) : f32[batch,64]\n  return %y\n}\n');
    await userError(/relu\.lir: reference output 'logits' is f32\[batch,10\] but candidate output 'y' is f32\[batch,64\]/, 'eval', MLP, p, '--data', MLP_EVAL);
  });

  it('--metric bpc with [N] labels names both shapes', async () => {
    await userError(/labels\.pb: --metric bpc needs labels \[N, T\] for an \[N, T, V\] output; output 'logits' is f32\[batch,10\] and labels are i64\[360\]/,
      'eval', MLP, MLP, '--data', MLP_EVAL, '--labels', MLP_LABELS, '--metric', 'bpc');
  });

  it('--backend ort without onnxruntime-node (LUTRA_NO_ORT=1)', async () => {
    await withoutOrt(() => userError(/backend ort needs onnxruntime-node, which is not installed/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--backend', 'ort'));
  });

  it('bad option values are usage errors', async () => {
    await userError(/unknown metric 'top5' \(metrics: acc, bpc\)/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--labels', MLP_LABELS, '--metric', 'top5');
    await userError(/--metric acc needs --labels <file>/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--metric', 'acc');
    await userError(/unknown backend 'gpu' \(backends: ref, ort, both\)/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--backend', 'gpu');
    await userError(/--samples needs a positive integer, got '0'/, 'eval', MLP, MLP, '--data', MLP_EVAL, '--samples', '0');
    await userError(/'lutra eval' needs --data <dir>/, 'eval', MLP, MLP);
  });
});
