/** awq only rescales (float outputs within 1e-5), its α search never loses to RTN, and its objective is migratedLayerError's. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTensor } from '../../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, constantOf, tensorType } from '../../src/ir/index.js';
import { awqScales, searchScales } from '../../src/passes/awq.js';
import { findSites, migratedLayerError, siteData } from '../../src/quant/migrate.js';
import type { QuantScheme } from '../../src/quant/quantizer.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

const INT4: QuantScheme = { format: 'int4', symmetric: false, granularity: 'group', group: 128 };
const tmp = mkdtempSync(join(tmpdir(), 'lutra-awq-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * x → LayerNorm (γ_2 = 6: channel 2 salient) → MatMul w1 [8,6] and Gemm transB [5,8]; the
 * MatMul's result feeds MatMul w3 [6,4] (a site absorbed by the preceding linear, whose weight
 * the first site has already replaced).
 */
function model(): Model {
  const g = new Graph('awq');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 8]));
  const gamma = b.constant('gamma', Tensor.from('f32', [8], [1, 0.5, 6, 1, 0.8, 1.2, 0.5, 1]));
  const n = b.op('onnx.LayerNormalization', [x, gamma, b.constant('beta', seeded([8], 2, 0.3))], { axis: -1 });
  const y1 = b.op('onnx.MatMul', [n, b.constant('w1', seeded([8, 6], 3, 1))]);
  const y2 = b.op('onnx.Gemm', [n, b.constant('w2', seeded([5, 8], 4, 1)), b.constant('c2', seeded([5], 5, 1))], { transB: 1 });
  const y3 = b.op('onnx.MatMul', [y1, b.constant('w3', seeded([6, 4], 6, 1))]);
  b.output(y2, y3);
  return new Model(g);
}

/** A calibration directory of two seeded sets x [32, 8]. */
function calibDir(): string {
  const dir = join(tmp, 'calib');
  for (const k of [0, 1]) {
    mkdirSync(join(dir, `test_data_set_${k}`), { recursive: true });
    writeTensor(join(dir, `test_data_set_${k}`, 'input_0.pb'), seeded([32, 8], 10 + k, 3));
  }
  return dir;
}

/** Constants the pass rewrote. */
const migrated = (m: Model): number => m.graph.constants.filter((v) => v.name.endsWith('_migrated')).length;

describe('awq', () => {
  it('scales a LayerNorm site and a linear-absorbed site without changing outputs (seeded)', async () => {
    const m = model();
    const calib = calibDir();
    const { before, after } = await expectEquivalent(m, `awq{calib=${calib}}`, [seeded([16, 8], 20, 3)]);
    expect(after).toEqual(before);
    // γ, β, w1 rows and w2 columns (site n); w1 columns again and w3 rows (site y1)
    expect(migrated(m)).toBeGreaterThanOrEqual(4);
    expect(m.graph.constants.map((v) => v.name)).not.toContain('gamma');
  });

  it('searches α from 0 (RTN) up, and measures what migratedLayerError measures', () => {
    const m = model();
    const g = m.graph;
    const calib = calibDir();
    const sites = findSites(g);
    const xs = sites.map((s) => s.x);
    const { stats, samples: rows } = siteData(g, xs, calib);
    for (const site of sites) {
      const x = rows.get(site.x)!;
      const c = searchScales(site, x, stats.get(site.x)!.absMean, INT4, 20);
      expect(c.error).toBeLessThanOrEqual(c.rtnError);
      if (site.consumers.length !== 1) continue;
      const lin = site.consumers[0]!;
      const w = constantOf(g, lin.weight)!;
      const ones = new Float64Array(site.k).fill(1);
      expect(c.rtnError).toBeCloseTo(migratedLayerError(x, w, lin.kAxis, ones, undefined, null, INT4), 6);
      expect(c.error).toBeCloseTo(migratedLayerError(x, w, lin.kAxis, c.s, undefined, null, INT4), 6);
    }
    // the salient channel of the LayerNorm site gets the largest scale once α > 0
    const s = awqScales(stats.get(sites[0]!.x)!.absMean, 0.5);
    expect(s.indexOf(Math.max(...s))).toBe(2);
    expect(awqScales([3, 0.5, 2], 0)).toEqual(Float64Array.from([1, 1, 1]));
  });

  it('is a usage error without calibration data', async () => {
    await expect(expectEquivalent(model(), 'awq', [seeded([16, 8], 20, 3)])).rejects.toThrow(/calib/);
  });

  // eval batches cut to 4 rows (char_lm takes ~8 s per 32 sequences in the interpreter), calibration to 4 samples
  it.skipIf(!HAS_SHARED).each([
    ['digits_vit', 'calib', ''],
    ['digits_vit_outlier', 'calib', ''],
    ['char_lm', 'calib', ''],
    ['char_lm_outlier', 'calib', ''],
    ['public/chessgpt', 'data', ''],
    // every site of silero is unabsorbable (MatMul after a Transpose / Concat): explicit Muls
    ['public/silero-vad-v3-micro', 'data', ',explicit=true'],
  ])('%s: float outputs unchanged', async (name, calib, extra) => {
    const { model: m, inputs } = corpusCase(name);
    const rows = inputs.map((t, i) => (typeof m.graph.inputs[i]?.type.shape?.[0] === 'string' && t.shape[0]! > 4
      ? new Tensor(t.dtype, [4, ...t.shape.slice(1)], t.data.slice(0, (4 * t.size) / t.shape[0]!) as typeof t.data) : t));
    const { before, after } = await expectEquivalent(m, `awq{calib=${join(CORPUS, name, calib)},samples=4${extra}}`, rows);
    expect(migrated(m)).toBeGreaterThan(0);
    if (extra) expect(after['onnx.Mul']).toBeGreaterThan(before['onnx.Mul']!);
    else expect(after).toEqual(before);
  });
});
