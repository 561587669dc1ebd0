/**
 * Writes the smooth-quant golden tests' calibration data: `calib/test_data_set_{0,1}/input_0.pb`,
 * f32 [8, 4] each, seeded, with channel 2 an outlier (×40). Every graph in ../*.lir takes
 * %x: f32[batch,4]. Run: npx tsx tests/lit/passes/smooth-quant/Inputs/make-calib.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTensor } from '../../../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../../../src/ir/tensor.js';

const here = dirname(fileURLToPath(import.meta.url));
let seed = 7;
const next = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed / 2 ** 32) * 2 - 1;
};
for (let set = 0; set < 2; set++) {
  const values = Array.from({ length: 8 * 4 }, (_, i) => next() * (i % 4 === 2 ? 40 : 1));
  const dir = join(here, 'calib', `test_data_set_${set}`);
  mkdirSync(dir, { recursive: true });
  writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [8, 4], values), 'x');
}
