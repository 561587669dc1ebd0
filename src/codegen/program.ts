/**
 * @fileoverview A lowered model: planned buffers in one linear address space, kernels, and the
 * order they run in. Target-neutral: the WASM renderer bakes the offsets into one module, a GPU
 * runtime would bind the same buffers as storage bindings.
 */
import type { WeightSegment } from '../runtime/executor.js';
import type { Kernel, Storage } from './kernel-ir.js';

export type BufferKind = 'input' | 'output' | 'weight' | 'activation';

/** A buffer with its place in memory (bytes, absolute) and, for activations, its live range. */
export interface PlannedBuffer {
  readonly name: string;
  readonly kind: BufferKind;
  readonly elem: Storage;
  /** Elements. */
  readonly size: number;
  readonly offset: number;
  readonly bytes: number;
  /** First and last dispatch index that touch it (activations, inputs and outputs). */
  readonly live?: readonly [number, number];
}

/** A run-time condition: the bool element `offset` of buffer `buf` must equal `value` (a branch of an If on input data). */
export interface Guard {
  readonly buf: string;
  readonly offset: number;
  readonly value: boolean;
}

/** One kernel launch: the kernel, which program buffer each of its parameters is, and the conditions it runs under. */
export interface Dispatch {
  readonly kernel: Kernel;
  readonly bind: Readonly<Record<string, string>>;
  readonly when?: readonly Guard[];
}

/** A graph input or output: its buffer and its signature. */
export interface IoSignature {
  readonly name: string;
  readonly dtype: Storage;
  readonly shape: readonly number[];
  /** The model's dims before specialization (symbols such as `batch` kept). */
  readonly declaredShape: readonly (number | string)[];
  readonly buffer: string;
}

export interface Program {
  readonly name: string;
  readonly buffers: readonly PlannedBuffer[];
  readonly dispatches: readonly Dispatch[];
  readonly inputs: readonly IoSignature[];
  readonly outputs: readonly IoSignature[];
  readonly memory: {
    /** Bytes of linear memory the program needs. */
    readonly total: number;
    readonly weightsOffset: number;
    readonly weightsBytes: number;
    readonly arenaOffset: number;
    readonly arenaBytes: number;
    /** Most bytes of activations (incl. inputs and outputs) live at once. */
    readonly peakActivationBytes: number;
  };
  /** Weight bytes in layout order (what weights.bin holds), placed at `memory.weightsOffset`. */
  readonly weights: Uint8Array;
  /** Where each piece of `weights` goes when it is not the memory image verbatim (f16 weights stored as halves). */
  readonly weightSegments?: readonly WeightSegment[];
}
