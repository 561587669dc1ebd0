/** @fileoverview The IR public API. Importing it registers every op. */
export * from './dtype.js';
export * from './types.js';
export * from './tensor.js';
export * from './graph.js';
export * from './clone.js';
export * from './registry.js';
export * from './builder.js';
export * from './verifier.js';
export * from './diagnostics.js';
export * from './shape-utils.js';
import './ops/index.js';
