/**
 * @fileoverview Kernel registry of the reference interpreter. A kernel computes a node's
 * outputs from its input tensors; it never sees the IR beyond the node it runs.
 * Families register from src/interp/kernels/<family>.ts (same families as src/ir/ops/).
 */
import type { Graph, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

export interface KernelCtx {
  /** Run a subgraph (If branches) whose free values resolve in the current environment. */
  runSubgraph(g: Graph): Tensor[];
  /** A weight-store entry (per-channel quantization parameters named by a q<…> type). */
  weight(key: string): Tensor;
}

/** Inputs are undefined where an optional input is omitted. */
export type Kernel = (inputs: readonly (Tensor | undefined)[], node: Node, ctx: KernelCtx) => Tensor[];

const KERNELS = new Map<string, Kernel>();

export function registerKernel(op: string, k: Kernel): void {
  if (KERNELS.has(op)) throw new Error(`kernel for ${op} registered twice`);
  KERNELS.set(op, k);
}

export function getKernel(op: string): Kernel | undefined {
  return KERNELS.get(op);
}

export function kernelOps(): string[] {
  return [...KERNELS.keys()].sort();
}
