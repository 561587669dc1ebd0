/** @fileoverview Registers every op family. Import this (or src/ir/index.ts) before using the registry. */
import './elementwise.js';
import './shape.js';
import './reduce.js';
import './nn.js';
import './quant.js';
import './control.js';
import './fused.js';
