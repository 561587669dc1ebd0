/** @fileoverview `lutra compile`: compile a model (optionally quantized first) into an artifact directory for a target. */
import { statSync } from 'node:fs';
import { LutraError } from '../../ir/diagnostics.js';
import { printKernel } from '../../codegen/kernel-ir.js';
import { type QuantArtifact, writeArtifact } from '../../codegen/artifact.js';
import { compileWasm } from '../../codegen/index.js';
import { exportOnnx } from '../../frontends/onnx/export.js';
import { loadModel } from '../../load.js';
import { applyRecipe, needsCalibration } from '../../quant/apply.js';
import { loadRecipe, planQuantization } from '../../quant/recipe.js';
import '../../passes/index.js';
import { type Command, flag, str, strs, usageError } from '../command.js';

/** Targets `lutra compile` can write; the design's webgpu and cuda come later. */
const TARGETS = ['wasm'] as const;

const kib = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

function parseDims(cmd: Command, specs: readonly string[]): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m || Number(m[2]) < 1) throw usageError(cmd, `--dim expects name=<positive integer>, got '${s}'`);
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}

export const compile: Command = {
  name: 'compile',
  summary: 'Compile a model into an artifact directory (WASM SIMD module, weights, typed loader).',
  args: ['model.onnx|.lir'],
  options: {
    target: { type: 'string', value: 'name', help: `target to compile for (default wasm; available: ${TARGETS.join(', ')})` },
    output: { type: 'string', short: 'o', value: 'dir', required: true, help: 'artifact directory to write (replaced if it holds a previous artifact)' },
    batch: { type: 'string', value: 'n', help: 'size of a symbolic leading (batch) dim of the inputs (default 1); larger batches run in chunks' },
    dim: { type: 'string', multiple: true, value: 'name=n', help: 'size of another symbolic dim, e.g. --dim seq=128' },
    recipe: { type: 'string', value: 'name|recipe.json', help: "quantize first with this recipe (as 'lutra quantize'), then compile the QDQ model into integer kernels" },
    calib: { type: 'string', value: 'dir', help: 'calibration data for --recipe (needed for static activations and GPTQ)' },
    samples: { type: 'string', value: 'n', help: 'use at most n calibration samples' },
    'print-kernels': { type: 'boolean', help: 'print the scheduled kernel IR to stdout' },
  },
  details: `The artifact holds manifest.json (buffers, kernels in dispatch order, I/O signature),
weights.bin, model.wasm, runtime.js and a typed loader (index.js + index.d.ts):

  import { load } from './out/index.js';
  const m = await load();
  const out = await m.run({ input: new Float32Array(64) });

Shapes are specialized at compile time: symbolic dims are bound with --batch and --dim.

With --recipe the model is quantized first (exactly as 'lutra quantize' does) and the artifact
also holds model.qdq.onnx, the QDQ model its kernels implement: int8 × int8 GEMMs and
convolutions accumulate in i32 (WASM i32x4.dot_i16x8_s), weight-only formats (w4a16) stay packed
and are dequantized in the GEMM's inner loop.
'lutra run <dir> --inputs <data> --outputs <out>' runs an artifact. Documentation: docs/codegen.md.

Examples:
  lutra compile ../shared/corpus/digits_mlp/model.onnx -o out/digits_mlp
  lutra compile model.onnx --batch 8 --dim seq=128 -o out/model
  lutra compile model.onnx --recipe w8a8 --calib calib/ -o out/model-w8a8
  lutra compile model.onnx --recipe w4a16 -o out/model-w4a16`,
  async run(args, io) {
    const target = str(args, 'target') ?? 'wasm';
    if (!(TARGETS as readonly string[]).includes(target)) throw usageError(this, `target '${target}' is not available (available targets: ${TARGETS.join(', ')})`);
    const recipeArg = str(args, 'recipe');
    const calib = str(args, 'calib');
    const samplesArg = str(args, 'samples');
    if (recipeArg === undefined && (calib !== undefined || samplesArg !== undefined)) throw usageError(this, '--calib and --samples go with --recipe');
    const samples = samplesArg === undefined ? undefined : Number(samplesArg);
    if (samples !== undefined && (!Number.isInteger(samples) || samples < 1)) throw usageError(this, `--samples must be a positive integer, got '${samplesArg}'`);
    const batchArg = str(args, 'batch');
    const batch = batchArg === undefined ? 1 : Number(batchArg);
    if (!Number.isInteger(batch) || batch < 1) throw usageError(this, `--batch must be a positive integer, got '${batchArg}'`);
    const dims = parseDims(this, strs(args, 'dim'));
    const path = args.positionals[0]!;
    const model = loadModel(path);
    let quant: QuantArtifact | undefined;
    if (recipeArg !== undefined) {
      const recipe = loadRecipe(recipeArg);
      if (calib !== undefined) {
        let isDir = false;
        try { isDir = statSync(calib).isDirectory(); } catch { /* reported below */ }
        if (!isDir) throw new LutraError('io', 'calibration directory not found', calib);
      } else if (needsCalibration(planQuantization(model, recipe))) {
        throw usageError(this, `recipe '${recipe.name}' quantizes activations statically (or uses GPTQ), which needs calibration data: pass --calib <dir>`);
      }
      await applyRecipe(model, recipe, { calib, maxSamples: samples });
      quant = { recipe: recipe.name, onnx: exportOnnx(model) };
    }
    const { program, wasm } = compileWasm(model, { batch, dims });
    if (flag(args, 'print-kernels')) for (const d of program.dispatches) io.stdout(printKernel(d.kernel));
    const out = str(args, 'output')!;
    try {
      writeArtifact(out, program, wasm.binary, quant);
    } catch (e) {
      if (e instanceof LutraError) throw e;
      throw new LutraError('io', (e as Error).message, out);
    }
    const mem = program.memory;
    io.stdout(`compiled ${path}${quant ? ` (${quant.recipe})` : ''} for ${target}: ${program.dispatches.length} kernels, weights ${kib(mem.weightsBytes)}${program.weights.length !== mem.weightsBytes ? ` (${kib(program.weights.length)} in weights.bin)` : ''}, `
      + `peak activations ${kib(mem.peakActivationBytes)} (arena ${kib(mem.arenaBytes)}), module ${kib(wasm.binary.length)}\n`);
    io.stdout(`wrote ${out}/ (manifest.json, weights.bin, model.wasm, runtime.js, index.js, index.d.ts${quant ? ', model.qdq.onnx' : ''})\n`);
    return 0;
  },
};
