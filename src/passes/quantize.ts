/**
 * @fileoverview `quantize`: apply a recipe (built-in name or JSON file) — calibrate on a data
 * directory, round the weights, insert activation quantizers — leaving the graph in QDQ form
 * with quantized element types (src/quant/apply.ts). `lutra quantize` runs the same code with
 * progress, reports and size accounting.
 */
import { applyRecipe } from '../quant/apply.js';
import { loadRecipe } from '../quant/recipe.js';
import { definePass, registerPass } from './manager.js';

export const quantize = definePass({
  name: 'quantize',
  summary: 'assign quantized types by a recipe: weights rounded, activations calibrated (QDQ form)',
  description: `Before: %y = onnx.MatMul(%x, %w) with %w : f32[K,N].
After (w8a8): %w_quantized : q<i8, @…scale, @…zero, axis=1>[K,N]; %w_dequantized = q.dequantize(%w_quantized);
%x_quantized = q.quantize(%x) : q<u8, s, z>[…]; %x_dequantized = q.dequantize(%x_quantized);
%y = onnx.MatMul(%x_dequantized, %w_dequantized).`,
  options: {
    recipe: { type: 'string', default: 'w8a8', doc: 'built-in recipe name (see docs/recipes.md) or path to a recipe JSON file' },
    calib: { type: 'string', default: '', doc: 'calibration data directory (needed for static activations and GPTQ)' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = all)' },
  },
  async run(model, o, ctx) {
    const calib = o.calib || ctx.calib;
    const r = await applyRecipe(model, loadRecipe(o.recipe), { calib, maxSamples: o.samples > 0 ? o.samples : ctx.samples, log: ctx.log });
    ctx.log(`quantize: ${r.weights.length} weights, ${r.activations.length} activations (${r.plan.recipe.name})`);
    for (const n of r.notes) ctx.log(`quantize: note: ${n}`);
  },
});

registerPass(quantize);
