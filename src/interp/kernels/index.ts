/** @fileoverview Registers every kernel family of the reference interpreter. */
import './elementwise.js';
import './shape.js';
import './gather.js';
import './resize.js';
import './einsum.js';
import './reduce.js';
import './nn.js';
import './quant.js';
import './control.js';
import './attention.js';
import './fused.js';
import './q.js';
