/**
 * Writes Inputs/calib for the repq-ln golden tests: one batch of four rows x [4, 4] whose
 * normalization over the last axis (ε = 0) is exactly ±1 per element, each channel seeing both
 * signs, so a norm with γ, β has channel ranges [β − |γ|, β + |γ|]. Run: npx tsx make-calib.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTensor } from '../../../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../../../src/ir/tensor.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'calib', 'test_data_set_0');
mkdirSync(dir, { recursive: true });
const rows = [[-1, -1, 1, 1], [1, 1, -1, -1], [2, -2, 2, -2], [-2, 2, -2, 2]];
writeTensor(join(dir, 'input_0.pb'), Tensor.from('f32', [4, 4], rows.flat()), 'x');
