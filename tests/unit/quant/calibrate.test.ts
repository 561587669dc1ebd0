/** Calibration: observers fed from interpreter runs over data directories, sentinels, determinism, and bad data. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../../src/frontends/onnx/import.js';
import { encodeNpy, writeTensor } from '../../../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../../../src/ir/index.js';
import { type Calibration, activationRange, calibrate } from '../../../src/quant/calibrate.js';
import { type QuantPlan, loadRecipe, planQuantization, validateRecipe } from '../../../src/quant/recipe.js';
import { errorOf } from '../../helpers/errors.js';
import { CORPUS, HAS_SHARED } from '../../helpers/shared.js';

const corpus = (m: string) => loadOnnx(join(CORPUS, m, 'model.onnx'));
const calibDir = (m: string) => join(CORPUS, m, 'calib');
const tmp = () => mkdtempSync(join(tmpdir(), 'lutra-calib-'));

/** Everything a calibration learned, as plain data (for determinism checks). */
function snapshot(plan: QuantPlan, cal: Calibration): unknown {
  return plan.activations.map((a) => {
    const t = cal.tensors.get(a.value)!;
    return { name: a.value.name, range: activationRange(cal, a), sentinels: t.sentinels, observer: t.observer!.toJSON(), channels: t.channels };
  });
}

/** x[2,4] → Log "/log" → MatMul "/mm" (constant w[4,3]). */
function logModel(): Model {
  const g = new Graph('main');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 4]));
  const l = b.op('onnx.Log', [x], {}, { name: '/log' });
  b.output(b.op('onnx.MatMul', [l, b.constant('w', Tensor.from('f32', [4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]))], {}, { name: '/mm' }));
  return new Model(g);
}

describe('calibrate on small models', () => {
  it('reads a flat .npy directory and observes the planned activation', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'input_0.npy'), encodeNpy(Tensor.from('f32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])));
    const model = logModel();
    const plan = planQuantization(model, loadRecipe('w8a8'));
    expect(plan.activations.map((a) => a.value.name)).toEqual(['/log']);
    const cal = calibrate(model, plan, dir);
    expect([cal.dataSets, cal.samples]).toEqual([1, 2]);
    const r = activationRange(cal, plan.activations[0]!);
    expect(r.min).toBeLessThanOrEqual(0);
    expect(r.max).toBeCloseTo(Math.log(8), 5);
    const t = cal.tensors.get(plan.activations[0]!.value)!;
    expect([t.sentinels, t.elements, t.channelAxis]).toEqual([0, 8, 1]);
    expect(t.channels).toBeDefined();
  });

  it('names the node output and the data set when a tensor contains NaN', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'test_data_set_0'));
    mkdirSync(join(dir, 'test_data_set_1'));
    writeTensor(join(dir, 'test_data_set_0', 'input_0.pb'), Tensor.from('f32', [1, 4], [1, 2, 3, 4]));
    writeTensor(join(dir, 'test_data_set_1', 'input_0.pb'), Tensor.from('f32', [1, 4], [1, -2, 3, 4]));
    const model = logModel();
    const e = errorOf(() => calibrate(model, planQuantization(model, loadRecipe('w8a8')), dir));
    expect(e.code).toBe('input');
    expect(e.location).toBe(join(dir, 'test_data_set_1'));
    expect(e.message).toContain('calibration data set test_data_set_1: output \'/log\' of onnx.Log "/log" contains NaN (element 1)');
  });

  it('weight-only plans observe nothing but still collect channel statistics', () => {
    const dir = tmp();
    writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]));
    const model = logModel();
    const plan = planQuantization(model, loadRecipe('w4a16'));
    const cal = calibrate(model, plan, dir);
    const t = cal.tensors.get(plan.channels[0]!.value)!;
    expect(t.observer).toBeUndefined();
    expect(t.channels).toBeDefined();
  });
});

describe.skipIf(!HAS_SHARED)('calibrate on the corpus', () => {
  it('digits_mlp w8a8: 8 data sets, 64 samples, finite ranges, progress, deterministic', () => {
    const model = corpus('digits_mlp');
    const plan = planQuantization(model, loadRecipe('w8a8'));
    const progress: [number, number][] = [];
    const cal = calibrate(model, plan, calibDir('digits_mlp'), { onProgress: (d, t) => progress.push([d, t]) });
    expect([cal.dataSets, cal.samples]).toEqual([8, 64]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((d) => [d, 8]));
    for (const a of plan.activations) {
      const r = activationRange(cal, a);
      expect(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min < r.max).toBe(true);
      expect(cal.tensors.get(a.value)!.sentinels).toBe(0);
    }
    expect(plan.channels.every((c) => cal.tensors.get(c.value)!.channels !== undefined)).toBe(true);
    const again = calibrate(model, plan, calibDir('digits_mlp'));
    expect(snapshot(plan, again)).toEqual(snapshot(plan, cal));
  });

  it('maxSamples cuts the last batch', () => {
    const model = corpus('digits_mlp');
    const plan = planQuantization(model, loadRecipe('w8a8'));
    const cal = calibrate(model, plan, calibDir('digits_mlp'), { maxSamples: 12 });
    expect([cal.dataSets, cal.samples]).toEqual([2, 12]);
    expect(cal.tensors.get(plan.activations[0]!.value)!.elements).toBe(12 * 64);
  });

  it('char_lm: the causal-mask sentinels of each Where output are counted and kept out of its range', () => {
    const model = corpus('char_lm');
    const plan = planQuantization(model, validateRecipe({ name: 'w8a8-softmax', ops: ['MatMul', 'Softmax'] }, 'test'));
    const wheres = plan.activations.filter((a) => /attn\/Where_output_0$/.test(a.value.name));
    expect(wheres).toHaveLength(4);
    const rss0 = process.memoryUsage().rss;
    const maxRss0 = process.resourceUsage().maxRSS * 1024;
    let sampled = rss0;
    const t0 = performance.now();
    const cal = calibrate(model, plan, calibDir('char_lm'), { onProgress: () => { sampled = Math.max(sampled, process.memoryUsage().rss); } });
    const ms = performance.now() - t0;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(`[calibrate] char_lm: ${cal.samples} samples in ${cal.dataSets} data sets, ${plan.activations.length} activation tensors: `
      + `${(ms / 1000).toFixed(1)} s; rss ${mib(rss0)} before, max after a data set +${mib(sampled - rss0)}; `
      + `process peak rss +${mib(Math.max(0, process.resourceUsage().maxRSS * 1024 - maxRss0))}`);
    expect(cal.samples).toBe(64);
    // 64 sequences × 4 heads × the 128·127/2 masked (future) positions of the 128×128 score matrix
    const masked = 64 * 4 * ((128 * 127) / 2);
    for (const a of wheres) {
      const t = cal.tensors.get(a.value)!;
      expect(t.sentinels).toBe(masked);
      expect(t.observer!.sentinels).toBe(masked);
      const r = activationRange(cal, a);
      expect(Math.max(Math.abs(r.min), Math.abs(r.max))).toBeLessThan(1e3);
      expect(r.min).toBeLessThan(r.max);
    }
    for (const a of plan.activations) {
      const r = activationRange(cal, a);
      expect(Number.isFinite(r.min) && Number.isFinite(r.max)).toBe(true);
    }
  }, 300_000);
});

describe('calibrate rejects bad calibration data', () => {
  const model = logModel();
  const plan = planQuantization(model, loadRecipe('w8a8'));

  it('a missing or empty directory', () => {
    const missing = join(tmp(), 'nope');
    expect([errorOf(() => calibrate(model, plan, missing)).code, errorOf(() => calibrate(model, plan, missing)).location]).toEqual(['io', missing]);
    expect(errorOf(() => calibrate(model, plan, missing)).message).toBe(`${missing}: calibration data directory not found`);
    const empty = tmp();
    const e = errorOf(() => calibrate(model, plan, empty));
    expect(e.code).toBe('io');
    expect(e.message).toContain('no input_<i>.pb / .npy files and no test_data_set_<n>/ subdirectories');
  });

  it('a tensor of the wrong shape or dtype names the data set', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'test_data_set_0'));
    mkdirSync(join(dir, 'test_data_set_1'));
    writeTensor(join(dir, 'test_data_set_0', 'input_0.pb'), Tensor.from('f32', [1, 4], [1, 2, 3, 4]));
    writeTensor(join(dir, 'test_data_set_1', 'input_0.pb'), Tensor.from('f32', [1, 5], [1, 2, 3, 4, 5]));
    const e = errorOf(() => calibrate(model, plan, dir));
    expect(e.code).toBe('input');
    expect(e.location).toBe(join(dir, 'test_data_set_1'));
    expect(e.message).toContain("calibration data set test_data_set_1: input 'x' expects f32[batch,4], got shape [1,5]");
    writeTensor(join(dir, 'test_data_set_1', 'input_0.pb'), Tensor.from('f64', [1, 4], [1, 2, 3, 4]));
    expect(errorOf(() => calibrate(model, plan, dir)).message).toContain("input 'x' expects f32[batch,4], got dtype f64");
  });

  it('a wrong number of inputs', () => {
    const dir = tmp();
    writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [1, 4], [1, 2, 3, 4]));
    writeTensor(join(dir, 'input_1.pb'), Tensor.from('f32', [1, 4], [1, 2, 3, 4]));
    expect(errorOf(() => calibrate(model, plan, dir)).message).toContain('model takes 1 input(s) (x), got 2');
  });

  it('NaN or Inf in a graph input', () => {
    const dir = tmp();
    writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [1, 4], [1, 2, Infinity, 4]));
    const e = errorOf(() => calibrate(model, plan, dir));
    expect(e.message).toContain("calibration data set (directory): graph input 'x' contains Inf (element 2)");
    expect(e.location).toBe(dir);
  });
});
