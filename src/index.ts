/**
 * @fileoverview Lutra's public API — what `import … from 'lutra'` gives plugin authors and
 * embedders: the IR, its text form, ONNX import/export, the reference interpreter, the rewrite
 * engine and the pass manager.
 */
export * from './ir/index.js';
export * from './ir/text/index.js';
export { importOnnx, loadOnnx } from './frontends/onnx/import.js';
export { exportOnnx, saveOnnx } from './frontends/onnx/export.js';
export { readTensor, writeTensor, readDataDir, type DataSet } from './frontends/onnx/testdata.js';
export { run, checkInputs, type RunOptions as InterpreterOptions } from './interp/interpreter.js';
export { registerKernel, getKernel, type Kernel, type KernelCtx } from './interp/kernel.js';
export * from './rewrite/index.js';
export {
  definePass, rewritePass, registerPass, getPass, allPasses, parsePipeline, runPipeline, loadPlugin,
  type Pass, type PassContext, type OptionSchema, type OptionSpec, type RunOptions as PipelineOptions,
} from './passes/manager.js';
import './passes/index.js';
export { loadModel, saveModel } from './load.js';
