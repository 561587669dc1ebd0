/** @fileoverview Compile a model for the WASM SIMD target: lower, schedule, plan, render. */
import type { Model } from '../ir/graph.js';
import { type ShapeBinding, lowerModel } from './lower/index.js';
import type { Program } from './program.js';
import { type WasmOutput, renderProgram } from './wasm/render.js';

export type { ShapeBinding } from './lower/index.js';
export type { Program } from './program.js';

export interface Compiled {
  readonly program: Program;
  readonly wasm: WasmOutput;
}

/** Compile `model` for the shapes `bind` selects into one validated, optimized WASM module. */
export function compileWasm(model: Model, bind: ShapeBinding, opts: { optimize?: boolean } = {}): Compiled {
  const program = lowerModel(model, bind);
  return { program, wasm: renderProgram(program, opts) };
}
