/** Recipes: strict validation with key paths, built-ins, rule order, exclusions, and plans on corpus models. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../../src/frontends/onnx/import.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../../../src/ir/index.js';
import { builtinRecipeNames, loadRecipe, opMatches, planQuantization, validateRecipe } from '../../../src/quant/recipe.js';
import { parsePipeline } from '../../../src/passes/index.js';
import { errorOf } from '../../helpers/errors.js';
import { CORPUS, HAS_SHARED, ROOT } from '../../helpers/shared.js';

const recipe = (json: unknown) => validateRecipe(json, 'r.json');
const corpus = (m: string) => loadOnnx(join(CORPUS, m, 'model.onnx'));

/** x[4,8] → MatMul "/a" (w1 [8,16]) → Relu → MatMul "/b" (w2 [16,4]) → Gemm "/c" (transB, w3 [2,4]). */
function tiny(): Model {
  const g = new Graph('main');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', [4, 8]));
  const w = (name: string, shape: number[]) => b.constant(name, Tensor.zeros('f32', shape));
  const h = b.op('onnx.MatMul', [x, w('w1', [8, 16])], {}, { name: '/a' });
  const r = b.op('onnx.Relu', [h], {}, { name: '/relu' });
  const y = b.op('onnx.MatMul', [r, w('w2', [16, 4])], {}, { name: '/b' });
  b.output(b.op('onnx.Gemm', [y, w('w3', [2, 4])], { transB: 1 }, { name: '/c' }));
  return new Model(g);
}

describe('recipe validation', () => {
  it.each(builtinRecipeNames())('built-in %s validates', (name) => {
    const r = loadRecipe(name);
    expect(r.name).toBe(name);
    expect(r.description).not.toBe('');
  });

  it('has the documented built-ins, and their pass pipelines name registered passes', () => {
    const names = builtinRecipeNames();
    expect(names).toEqual(['w8a8', 'w8a8-llmint8', 'w8a8-smoothquant', 'w8a8-osplus', 'w8a8-outliertune', 'w8a8-dynamic', 'w8a16', 'w4a16', 'w4a16-awq', 'w4a8', 'w4a4-repq', 'w6a6', 'w6a6-repq', 'w3a16', 'w3a16-awq', 'fp8']);
    const doc = readFileSync(join(ROOT, 'docs/recipes.md'), 'utf8');
    for (const n of names) {
      expect(doc).toContain(`| \`${n}\` |`);
      expect(() => parsePipeline(loadRecipe(n).passes)).not.toThrow();
    }
    expect(loadRecipe('w4a16').defaults.activations).toBeNull();
    expect(loadRecipe('w8a8-dynamic').defaults.activations?.mode).toBe('dynamic');
  });

  it('names the full path of an unknown key and suggests the near one', () => {
    const e = errorOf(() => recipe({ defaults: { weights: { granulrity: 'channel' } } }));
    expect(e.code).toBe('usage');
    expect(e.location).toBe('r.json');
    expect(e.message).toContain("unknown key 'defaults.weights.granulrity' (did you mean 'granularity'?)");
    expect(errorOf(() => recipe({ rules: [{ match: {}, weights: { bits: 4 } }] })).message).toContain("unknown key 'rules[0].weights.bits'");
    expect(errorOf(() => recipe({ colour: 1 })).message).toContain("unknown key 'colour'");
  });

  it('names the key and the allowed values of a bad enum', () => {
    const e = errorOf(() => recipe({ defaults: { weights: { type: 'int7' } } }));
    expect(e.message).toContain("'defaults.weights.type' must be one of 'int8', 'uint8', 'int6', 'uint6', 'int4', 'uint4', 'int3', 'uint3', 'int16', 'fp8e4m3' (got \"int7\")");
    expect(errorOf(() => recipe({ defaults: { activations: { observer: { kind: 'kl' } } } })).message)
      .toContain("'defaults.activations.observer.kind' must be one of 'minmax', 'moving-minmax', 'percentile', 'entropy', 'mse'");
    expect(errorOf(() => recipe({ defaults: { activations: { granularity: 'group' } } })).message)
      .toContain("'defaults.activations.granularity' must be one of 'tensor', 'channel'");
  });

  it('rejects wrong types, bad regexes, unknown ops and options of another observer', () => {
    expect(errorOf(() => recipe({ defaults: { weights: { symmetric: 'yes' } } })).message).toContain("'defaults.weights.symmetric' must be true or false");
    expect(errorOf(() => recipe({ defaults: { weights: { group: 0 } } })).message).toContain("'defaults.weights.group' must be an integer ≥ 2");
    expect(errorOf(() => recipe({ rules: [{ match: { names: '(' } }] })).message).toContain("'rules[0].match.names[0]' is not a valid regular expression");
    expect(errorOf(() => recipe({ exclude: { ops: ['Matmul'] } })).message).toContain("'exclude.ops[0]': unknown op 'Matmul'");
    expect(errorOf(() => recipe({ defaults: { activations: { observer: { kind: 'minmax', percentile: 99 } } } })).message)
      .toContain("'defaults.activations.observer.percentile' applies only to observer kind 'percentile'");
    expect(errorOf(() => recipe({ defaults: { activations: { observer: { kind: 'percentile', percentile: 101 } } } })).message)
      .toContain('(0, 100]');
    expect(errorOf(() => recipe({ defaults: { weights: { type: 'fp8e4m3', symmetric: false } } })).message).toContain('fp8e4m3');
    expect(errorOf(() => recipe({ rules: {} })).message).toContain("'rules' must be an array");
  });

  it('lists the built-ins for an unknown recipe name', () => {
    const e = errorOf(() => loadRecipe('w9a9'));
    expect(e.code).toBe('usage');
    expect(e.message).toContain("unknown recipe 'w9a9' (built-in recipes: w8a8, w8a8-llmint8, w8a8-smoothquant, w8a8-osplus, w8a8-outliertune, w8a8-dynamic, w8a16, w4a16, w4a16-awq, w4a8, w4a4-repq, w6a6, w6a6-repq, w3a16, w3a16-awq, fp8;");
  });

  it('loads a recipe file, names it after the file, and reports bad JSON and missing files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lutra-recipe-'));
    const good = join(dir, 'mine.json');
    writeFileSync(good, JSON.stringify({ defaults: { weights: { type: 'int4', granularity: 'group', group: 32 }, activations: null } }));
    const r = loadRecipe(good);
    expect(r.name).toBe('mine');
    expect(r.defaults.weights).toEqual({ type: 'int4', granularity: 'group', group: 32, symmetric: true, rounding: 'rtn' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "defaults": ');
    const e = errorOf(() => loadRecipe(bad));
    expect([e.code, e.location]).toEqual(['parse', bad]);
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ defaults: { weights: { granulrity: 'tensor' } } }));
    expect(errorOf(() => loadRecipe(typo)).location).toBe(typo);
    expect(errorOf(() => loadRecipe(join(dir, 'none.json'))).code).toBe('io');
  });
});

describe('planQuantization', () => {
  it('applies rules in order: a later matching rule overrides an earlier one, key by key', () => {
    const r = recipe({
      defaults: { weights: { type: 'int8' } },
      rules: [
        { match: { ops: ['MatMul'] }, weights: { type: 'int4', granularity: 'group', group: 4 } },
        { match: { names: '^/b$' }, weights: { type: 'uint8' } },
      ],
    });
    const plan = planQuantization(tiny(), r);
    const by = Object.fromEntries(plan.weights.map((w) => [w.node.name, w.scheme]));
    expect(by['/a']).toEqual({ format: 'int4', symmetric: true, granularity: 'group', axis: 0, group: 4 });
    expect(by['/b']).toEqual({ format: 'uint8', symmetric: true, granularity: 'group', axis: 0, group: 4 });
    expect(by['/c']).toEqual({ format: 'int8', symmetric: true, granularity: 'channel', axis: 0 });
  });

  it('a rule object after a null rule starts again from the recipe defaults', () => {
    const r = recipe({
      defaults: { weights: { type: 'uint8', symmetric: false } },
      rules: [{ match: {}, weights: null }, { match: { names: '^/b$' }, weights: { granularity: 'tensor' } }],
    });
    const plan = planQuantization(tiny(), r);
    expect(plan.weights.map((w) => [w.node.name, w.scheme])).toEqual([['/b', { format: 'uint8', symmetric: false, granularity: 'tensor' }]]);
  });

  it('activations: null in a rule makes a node weight-only; its input still gets channel statistics', () => {
    const plan = planQuantization(tiny(), recipe({ rules: [{ match: { names: '^/a$' }, activations: null }] }));
    expect(plan.weights).toHaveLength(3);
    expect(plan.activations.map((a) => a.value.name)).toEqual(['/relu', '/b']);
    expect(plan.channels.map((c) => [c.value.name, c.axis])).toEqual([['x', 1], ['/relu', 1], ['/b', 1]]);
  });

  it('bare op names select the onnx op and its fused forms; dialect names only themselves', () => {
    expect(opMatches('MatMul', 'onnx.MatMul')).toBe(true);
    expect(opMatches('MatMul', 'fused.MatMulAdd')).toBe(true);
    expect(opMatches('fused.MatMulAdd', 'onnx.MatMul')).toBe(false);
    expect(opMatches('Gemm', 'onnx.MatMul')).toBe(false);
  });

  it('per-channel activations put the input-channel axis on the scheme and the observer', () => {
    const plan = planQuantization(tiny(), recipe({ defaults: { activations: { granularity: 'channel', observer: { kind: 'percentile', percentile: 99.9 } } } }));
    expect(plan.activations[0]!.scheme).toEqual({ format: 'uint8', symmetric: false, granularity: 'channel', axis: 1 });
    expect(plan.activations[0]!.observer).toEqual({ kind: 'percentile', percentile: 99.9, axis: 1 });
  });

  it('excludes by op, by name and first/last layer', () => {
    const names = (json: unknown) => planQuantization(tiny(), recipe(json)).weights.map((w) => w.node.name);
    expect(names({ exclude: { ops: ['Gemm'] } })).toEqual(['/a', '/b']);
    expect(names({ exclude: { names: ['^/b'] } })).toEqual(['/a', '/c']);
    expect(names({ exclude: { first: true, last: true } })).toEqual(['/b']);
    const plan = planQuantization(tiny(), recipe({ exclude: { first: true } }));
    expect(plan.skipped.map((s) => [s.node.name, s.reason])).toEqual([['/a', 'exclude.first']]);
    expect(plan.activations.some((a) => a.value.name === 'x')).toBe(false);
  });

  it('rejects a rule that makes fp8 asymmetric, naming the node', () => {
    const r = recipe({ defaults: { weights: { type: 'fp8e4m3' } }, rules: [{ match: { names: '/b' }, weights: { symmetric: false } }] });
    const e = errorOf(() => planQuantization(tiny(), r));
    expect(e.message).toContain('onnx.MatMul "/b"');
    expect(e.location).toBe('r.json');
  });

  it.skipIf(!HAS_SHARED)('digits_mlp w8a8: 3 Gemm weights per output channel, 3 activation tensors', () => {
    const plan = planQuantization(corpus('digits_mlp'), loadRecipe('w8a8'));
    expect(plan.weights.map((w) => [w.value.name, w.input, w.scheme.granularity, w.scheme.axis, w.rounding])).toEqual([
      ['net.0.weight', 1, 'channel', 0, 'rtn'], ['net.2.weight', 1, 'channel', 0, 'rtn'], ['net.4.weight', 1, 'channel', 0, 'rtn'],
    ]);
    expect(plan.activations.map((a) => a.value.name)).toEqual(['input', '/net/net.1/Mul_1_output_0', '/net/net.3/Mul_1_output_0']);
    expect(plan.activations.every((a) => a.scheme.format === 'uint8' && !a.scheme.symmetric && a.mode === 'static')).toBe(true);
    expect(plan.channels).toHaveLength(3);
  });

  it.skipIf(!HAS_SHARED)('digits_vit w8a8: Conv + 16 constant MatMul + Gemm weights; attention MatMuls quantize both inputs', () => {
    const plan = planQuantization(corpus('digits_vit'), loadRecipe('w8a8'));
    const ops = plan.weights.map((w) => w.node.op);
    expect(ops.filter((o) => o === 'onnx.Conv')).toHaveLength(1);
    expect(ops.filter((o) => o === 'onnx.MatMul')).toHaveLength(16);
    expect(ops.filter((o) => o === 'onnx.Gemm')).toHaveLength(1);
    const conv = plan.weights.find((w) => w.node.op === 'onnx.Conv')!;
    expect(conv.scheme).toMatchObject({ granularity: 'channel', axis: 0 });
    const qkv = plan.weights.find((w) => w.node.name === '/blocks.0/attn/qkv/MatMul')!;
    expect(qkv.scheme).toMatchObject({ granularity: 'channel', axis: 1 });
    // per block: ln1, q, kᵀ, softmax, v, attention output, ln2, GELU output = 8; plus the image and the head input
    expect(plan.activations).toHaveLength(4 * 8 + 2);
    const attn = plan.activations.filter((a) => a.consumers[0]!.name === '/blocks.2/attn/MatMul').map((a) => a.value.name);
    expect(attn).toEqual(['/blocks.2/attn/Transpose_output_0', '/blocks.2/attn/Transpose_2_output_0']);
    expect(new Set(plan.activations.map((a) => a.value)).size).toBe(plan.activations.length);
  });

  it.skipIf(!HAS_SHARED)('digits_vit w4a16: groups of 128 along the reduction axis of matrices, per channel for the Conv kernel, no activations', () => {
    const plan = planQuantization(corpus('digits_vit'), loadRecipe('w4a16'));
    expect(plan.activations).toHaveLength(0);
    expect(plan.channels).toHaveLength(34);
    const axes = new Set(plan.weights.map((w) => `${w.node.op}:${w.scheme.axis}:${w.scheme.group}:${w.scheme.format}:${w.scheme.symmetric}`));
    // a blocked Conv kernel [M, C, kh, kw] would get one scale per (m, kh, kw): per channel instead, with a note
    expect([...axes].sort()).toEqual(['onnx.Conv:0:undefined:int4:false', 'onnx.Gemm:1:128:int4:false', 'onnx.MatMul:0:128:int4:false']);
    expect(plan.notes.some((n) => /group quantization applies to matrices/.test(n))).toBe(true);
  });

  it.skipIf(!HAS_SHARED)('char_lm: only the 4 blocks’ 4 linears and the head carry weights; ops can add Softmax inputs', () => {
    const model = corpus('char_lm');
    const plan = planQuantization(model, loadRecipe('w8a8'));
    expect(plan.weights).toHaveLength(17);
    expect(plan.activations.some((a) => /Where/.test(a.value.name))).toBe(false);
    const withSoftmax = planQuantization(model, recipe({ ops: ['MatMul', 'Gemm', 'Softmax'] }));
    expect(withSoftmax.activations.filter((a) => /attn\/Where_output_0$/.test(a.value.name))).toHaveLength(4);
    expect(withSoftmax.weights).toHaveLength(17);
  });
});
