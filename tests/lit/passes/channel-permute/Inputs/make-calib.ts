/**
 * Writes the channel-permute golden tests' calibration data: calib/test_data_set_{0,1}/input_0.pb,
 * each x f32[32, 4] with deterministic values, channel j uniform in [-SCALE_j, SCALE_j)
 * (channel 2 is the large one). Run: npx tsx tests/lit/passes/channel-permute/Inputs/make-calib.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTensor } from '../../../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../../../src/ir/tensor.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 32;
const SCALE = [1, 1, 16, 1];
let state = 2024;
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
