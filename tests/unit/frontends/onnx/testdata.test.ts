import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeNpy, encodeNpy, readDataDir, readTensor, tensorFromProto, tensorToProto, writeTensor,
} from '../../../../src/frontends/onnx/testdata.js';
import type { DType } from '../../../../src/ir/dtype.js';
import { Tensor } from '../../../../src/ir/tensor.js';
import { errorOf } from '../../../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-testdata-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SAMPLES: [DType, number[]][] = [
  ['f32', [1.5, -2, 0, 2 ** -30]], ['f64', [0.1, -1e300, 2, 3]], ['f16', [1, -2, 0.333251953125, 65504]],
  ['bf16', [1, -2.5, 3.140625, 0]], ['f8e4m3', [1, -2, 448, 0.5]], ['f8e5m2', [1, -2, 57344, 0.25]],
  ['i32', [1, -2, 2 ** 31 - 1, 0]], ['i16', [1, -2, 32767, 0]], ['i8', [1, -2, 127, -128]], ['u8', [1, 2, 255, 0]],
  ['u16', [1, 2, 65535, 0]], ['u32', [1, 2, 2 ** 32 - 1, 0]], ['bool', [1, 0, 0, 1]], ['i4', [1, -2, 7, -8]], ['u4', [1, 2, 15, 0]],
];

describe('TensorProto files', () => {
  it.each(SAMPLES)('%s round-trips through tensorToProto / tensorFromProto', (dtype, values) => {
    const t = Tensor.from(dtype, [2, 2], values);
    const back = tensorFromProto(tensorToProto(t, 'x'));
    expect([back.dtype, back.shape, back.toNumbers()]).toEqual([dtype, [2, 2], values]);
  });

  it('round-trips odd-length int4 (the last byte half used)', () => {
    const t = Tensor.from('i4', [3], [-8, 7, -1]);
    const p = tensorToProto(t);
    expect([...p.rawData]).toEqual([0x78, 0x0f]);
    expect(tensorFromProto(p).toNumbers()).toEqual([-8, 7, -1]);
  });

  it('writes and reads .pb files, keeping i64 exact', () => {
    const t = Tensor.from('i64', [2], [2n ** 62n + 1n, -3n]);
    const path = join(tmp, 'big.pb');
    writeTensor(path, t, 'big');
    expect([...(readTensor(path).data as BigInt64Array)]).toEqual([2n ** 62n + 1n, -3n]);
  });

  it('reports a file that is not a TensorProto', () => {
    const path = join(tmp, 'junk.pb');
    writeFileSync(path, new Uint8Array([0xff, 0xff, 0xff]));
    const e = errorOf(() => readTensor(path));
    expect(e.code).toBe('parse');
    expect(e.message).toContain(path);
  });

  it('reports a data length that does not match the dims', () => {
    const e = errorOf(() => tensorFromProto({ name: 'w', dims: [3], dataType: 1, rawData: new Uint8Array(8) }));
    expect(e.message).toBe("tensor 'w': f32[3] needs 12 bytes of data, has 8");
  });
});

describe('.npy files', () => {
  const NPY: DType[] = ['f32', 'f64', 'f16', 'i64', 'i32', 'i16', 'i8', 'u8', 'bool'];

  it.each(NPY)('%s round-trips through encodeNpy / decodeNpy', (dtype) => {
    const values = dtype === 'bool' ? [1, 0, 1, 1, 0, 0] : [1, -2, 3, 0, 5, 6].map((v) => (dtype === 'u8' ? Math.abs(v) : v));
    const t = Tensor.from(dtype, [2, 3], dtype === 'i64' ? values.map(BigInt) : values);
    const back = decodeNpy(encodeNpy(t));
    expect([back.dtype, back.shape, back.toNumbers()]).toEqual([dtype, [2, 3], values]);
  });

  it('reads .npy through readTensor, including 1-D and scalar shapes', () => {
    writeFileSync(join(tmp, 'v.npy'), encodeNpy(Tensor.from('f32', [3], [1, 2, 3])));
    writeFileSync(join(tmp, 's.npy'), encodeNpy(Tensor.scalar('i32', 7)));
    expect(readTensor(join(tmp, 'v.npy')).shape).toEqual([3]);
    expect(readTensor(join(tmp, 's.npy')).toNumbers()).toEqual([7]);
  });

  /** A hand-written .npy header with the given dict. */
  const npyWith = (dict: string, payload = 8) => {
    const header = `${dict}`.padEnd(117, ' ') + '\n';
    const out = new Uint8Array(10 + header.length + payload);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]);
    out.set(new TextEncoder().encode(header), 10);
    return out;
  };

  it.each([
    ['complex64', "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", /unsupported \.npy dtype '<c8'/],
    ['big-endian', "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", /unsupported \.npy dtype '>f4'/],
    ['Fortran order', "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", /Fortran-order/],
    ['truncated data', "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", /truncated \.npy data/],
  ])('rejects %s with a clear error', (_, dict, msg) => {
    const e = errorOf(() => decodeNpy(npyWith(dict), 'in.npy'));
    expect(e.code).toBe('parse');
    expect(e.message).toMatch(/^in\.npy: /);
    expect(e.message).toMatch(msg);
  });

  it('rejects a file without the .npy magic', () => {
    expect(errorOf(() => decodeNpy(new TextEncoder().encode('hello world!'), 'a.npy')).message).toBe('a.npy: not a .npy file (bad magic)');
  });
});

describe('readDataDir', () => {
  const x = Tensor.from('f32', [2], [1, 2]);
  const y = Tensor.from('f32', [2], [3, 4]);

  it('reads input_<i> / output_<i> files directly in the directory as one unnamed set', () => {
    const dir = join(tmp, 'flat');
    mkdirSync(dir);
    writeTensor(join(dir, 'input_0.pb'), x);
    writeFileSync(join(dir, 'input_1.npy'), encodeNpy(y));
    writeTensor(join(dir, 'output_0.pb'), y);
    const sets = readDataDir(dir);
    expect(sets.map((s) => [s.name, s.inputs.length, s.outputs.length])).toEqual([['', 2, 1]]);
    expect(sets[0]!.inputs[1]!.toNumbers()).toEqual([3, 4]);
  });

  it('reads test_data_set_<n> subdirectories in numeric order', () => {
    const dir = join(tmp, 'sets');
    for (const n of [10, 2, 0]) {
      mkdirSync(join(dir, `test_data_set_${n}`), { recursive: true });
      writeTensor(join(dir, `test_data_set_${n}`, 'input_0.pb'), Tensor.from('f32', [1], [n]));
    }
    const sets = readDataDir(dir);
    expect(sets.map((s) => s.name)).toEqual(['test_data_set_0', 'test_data_set_2', 'test_data_set_10']);
    expect(sets.map((s) => s.inputs[0]!.toNumbers()[0])).toEqual([0, 2, 10]);
    expect(sets[0]!.outputs).toEqual([]);
  });

  it('reports a gap in the numbering', () => {
    const dir = join(tmp, 'gap');
    mkdirSync(dir);
    writeTensor(join(dir, 'input_0.pb'), x);
    writeTensor(join(dir, 'input_2.pb'), x);
    expect(errorOf(() => readDataDir(dir)).message).toBe(`${dir}: input_1 is missing (found input_0.pb, input_2.pb)`);
  });

  it('reports a directory with no data and a missing directory', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(errorOf(() => readDataDir(empty)).message).toContain('no input_<i>.pb');
    expect(errorOf(() => readDataDir(join(tmp, 'absent'))).code).toBe('io');
  });
});
