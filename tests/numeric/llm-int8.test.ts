/**
 * llm-int8: the split model computes the same function in float (1e-5), and under W8A8 it
 * rescues the outlier model that plain W8A8 wrecks (interpreter, digits_vit_outlier eval subset).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import { readDataDir, readTensor } from '../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../src/ir/tensor.js';
import { run } from '../../src/interp/interpreter.js';
import '../../src/passes/index.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { Accuracy } from '../../src/quant/metrics.js';
import { loadRecipe } from '../../src/quant/recipe.js';
import { firstRows } from '../../src/quant/samples.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent } from './equivalence.js';

const calibOf = (name: string) => join(CORPUS, name, name.startsWith('public/') ? 'data' : 'calib');

describe.skipIf(!HAS_SHARED)('llm-int8', () => {
  it.each([
    ['digits_vit_outlier', 9], // qkv and fc1 of 4 blocks, and the head Gemm
    ['char_lm_outlier', 9],
    ['digits_vit', 0],
    ['public/chessgpt', -1],
  ])('%s: float outputs unchanged (1e-5); %i layers split', async (name, splits) => {
    const { model, inputs } = corpusCase(name);
    const { before, after } = await expectEquivalent(model, `llm-int8{calib=${calibOf(name)},samples=16}`, inputs);
    const added = (after['onnx.MatMul'] ?? 0) - (before['onnx.MatMul'] ?? 0);
    if (splits >= 0) expect(added).toBe(splits);
  }, 60_000);

  it('W8A8 with llm-int8 keeps digits_vit_outlier at float accuracy where plain W8A8 loses points', async () => {
    const dir = join(CORPUS, 'digits_vit_outlier');
    const set = readDataDir(join(dir, 'eval'))[0]!;
    const n = 180;
    const x = firstRows(set.inputs[0]!, n);
    const labels = firstRows(readTensor(join(dir, 'eval/labels.pb')), n);
    const accuracy = async (recipe: string): Promise<number> => {
      const m = loadOnnx(join(dir, 'model.onnx'));
      await applyRecipe(m, loadRecipe(recipe), { calib: join(dir, 'calib') });
      const acc = new Accuracy();
      acc.add(run(m.graph, [x])[0]! as Tensor, labels);
      return acc.result();
    };
    const float = new Accuracy();
    float.add(run(loadOnnx(join(dir, 'model.onnx')).graph, [x])[0]!, labels);
    const [plain, split] = [await accuracy('w8a8'), await accuracy('w8a8-llmint8')];
    expect(split).toBeGreaterThanOrEqual(float.result() - 0.006);
    expect(plain).toBeLessThan(split - 0.02);
  }, 120_000);
});
