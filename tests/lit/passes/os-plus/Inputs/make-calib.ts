/**
 * Writes the os-plus golden tests' calibration data: two data sets of x: f32[8, 4] with a
 * seeded uniform u ∈ [-1, 1) per element, x_j = offset_j + spread_j · u. Channel 2 is the
 * asymmetric outlier (about [-5, 35)). Run from the repository root:
 *   npx tsx tests/lit/passes/os-plus/Inputs/make-calib.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTensor } from '../../../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../../../src/ir/tensor.js';

const OFFSET = [0, 0.5, 15, -0.25];
const SPREAD = [1, 2, 20, 0.5];
const ROWS = 8;

let state = 12345;
const uniform = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state / 2 ** 32) * 2 - 1;
};

const dir = join(dirname(fileURLToPath(import.meta.url)), 'calib');
for (let set = 0; set < 2; set++) {
  const values = Array.from({ length: ROWS * 4 }, (_, i) => OFFSET[i % 4]! + SPREAD[i % 4]! * uniform());
  const setDir = join(dir, `test_data_set_${set}`);
  mkdirSync(setDir, { recursive: true });
  writeTensor(join(setDir, 'input_0.pb'), Tensor.from('f32', [ROWS, 4], values), 'x');
}
