/**
 * Writes the awq golden tests' calibration data: calib/test_data_set_{0,1}/input_0.pb, each
 * x f32[64, 4] with deterministic values, channel 0 in [-8, 8) and channels 1–3 in [-1, 1)
 * (channel 0 is the salient one). Run: npx tsx tests/lit/passes/awq/Inputs/make-calib.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTensor } from '../../../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../../../src/ir/tensor.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 64;
const SCALE = [8, 1, 1, 1];
let state = 12345;
const uniform = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state / 2 ** 32) * 2 - 1;
};
for (let set = 0; set < 2; set++) {
  const dir = join(here, 'calib', `test_data_set_${set}`);
  mkdirSync(dir, { recursive: true });
  const data = Array.from({ length: ROWS * SCALE.length }, (_, i) => SCALE[i % SCALE.length]! * uniform());
  writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [ROWS, SCALE.length], data), 'x');
}
