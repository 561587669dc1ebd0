/** @fileoverview Registers every built-in pass (import for its side effect), and re-exports the manager. */
import './canonicalize.js';
import './fold-constants.js';
import './dce.js';
import './cse.js';
import './fold-batchnorm.js';
import './fuse-matmul-add.js';
import './fuse-gelu.js';
import './fuse-layernorm.js';
import './fuse-rmsnorm.js';
import './quantize.js';
import './llm-int8.js';
import './smooth-quant.js';
import './os-plus.js';
import './awq.js';
import './repq-softmax.js';
import './repq-ln.js';
export * from './manager.js';
