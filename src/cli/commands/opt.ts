/** @fileoverview `lutra opt`: run a pass pipeline over a model and write it, or print its text IR. */
import { resolve } from 'node:path';
import { LutraError } from '../../ir/diagnostics.js';
import { printModel } from '../../ir/text/printer.js';
import { modelFormat, loadModel, saveModel } from '../../load.js';
import { loadPlugin, runPipeline } from '../../passes/manager.js';
import '../../passes/index.js';
import { type Command, flag, str, strs } from '../command.js';

export const opt: Command = {
  name: 'opt',
  summary: 'Run a pass pipeline over a model; write it (-o) or print its text IR.',
  args: ['in.onnx|.lir'],
  options: {
    passes: { type: 'string', value: 'pipeline', required: true, help: 'pass pipeline, e.g. "canonicalize,fold-constants" ("" runs nothing)' },
    output: { type: 'string', short: 'o', value: 'out.lir|.onnx', help: 'write the result here (default: print text IR, weights elided, to stdout)' },
    'print-after': { type: 'string', multiple: true, value: 'pass', help: 'print the IR to stderr after each run of this pass' },
    'print-after-all': { type: 'boolean', help: 'print the IR to stderr after every pass' },
    'verify-each': { type: 'boolean', help: 'run the IR verifier after every pass' },
    timing: { type: 'boolean', help: 'print the time each pass took to stderr' },
    trace: { type: 'boolean', help: 'print which rewrite rules fired, or why they did not match, to stderr' },
    plugin: { type: 'string', multiple: true, value: 'file', help: 'load passes from a .js/.ts module before running' },
    calib: { type: 'string', value: 'dir', help: 'calibration data for passes that measure activations (smooth-quant, os-plus, awq, …), unless given as their calib option' },
    samples: { type: 'string', value: 'n', help: 'at most n calibration samples' },
  },
  details: `A pipeline is a comma-separated list of pass names with optional {key=value,...} options;
'lutra passes' lists them. The input is verified when loaded; -o writes atomically (no
partial file on error); .lir output includes the weights.

Examples:
  lutra opt model.onnx --passes "canonicalize,fold-constants,dce" -o model.opt.onnx
  lutra opt test.lir --passes fuse-gelu --print-after=fuse-gelu --verify-each
  lutra opt model.lir --passes "" > roundtrip.lir
  lutra opt model.onnx --passes my-pass --plugin ./my-pass.ts -o out.lir
  lutra opt model.onnx --passes "smooth-quant{alpha=0.5}" --calib calib/ -o smoothed.onnx`,
  async run(args, io) {
    const out = str(args, 'output');
    if (out !== undefined) modelFormat(out);
    for (const p of strs(args, 'plugin')) await loadPlugin(resolve(p));
    const samples = str(args, 'samples');
    if (samples !== undefined && !(Number.isInteger(Number(samples)) && Number(samples) > 0)) throw new LutraError('usage', `--samples must be a positive integer, got '${samples}'`);
    const model = loadModel(args.positionals[0]!);
    await runPipeline(model, str(args, 'passes')!, {
      verifyEach: flag(args, 'verify-each'),
      printAfter: strs(args, 'print-after'),
      printAfterAll: flag(args, 'print-after-all'),
      timing: flag(args, 'timing'),
      trace: flag(args, 'trace'),
      log: (s: string) => io.stderr(s.endsWith('\n') ? s : `${s}\n`),
      calib: str(args, 'calib'),
      samples: samples === undefined ? undefined : Number(samples),
    });
    if (out !== undefined) saveModel(model, out);
    else io.stdout(printModel(model, { weights: 'elide' }));
    return 0;
  },
};
