/**
 * @fileoverview The Einsum kernel: one loop over the output and summed labels with per-operand
 * strides (repeated labels walk diagonals, broadcast dims stride 0), accumulating in float64.
 */
import { isFloat } from '../../ir/dtype.js';
import { getAttr } from '../../ir/registry.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { parseEinsum } from '../../ir/ops/einsum.js';
import { registerKernel } from '../kernel.js';

registerKernel('onnx.Einsum', (inputs, node) => {
  const ts = inputs as readonly Tensor[];
  const spec = parseEinsum(getAttr<string>(node, 'equation'), ts.map((t) => t.rank));
  const size = new Map<string, number>();
  spec.inputs.forEach((labels, i) => labels.forEach((l, k) => {
    const d = ts[i]!.shape[k]!;
    const prev = size.get(l);
    if (prev === undefined || prev === 1) size.set(l, d);
    else if (d !== 1 && d !== prev) throw new Error(`label ${l} has sizes ${prev} and ${d}`);
  }));
  const summed = [...size.keys()].filter((l) => !spec.output.includes(l));
  const loop = [...spec.output, ...summed];
  const dims = loop.map((l) => size.get(l)!);
  // each operand's stride per loop label (repeated labels add: diagonals; broadcast dims are 0)
  const opStrides = spec.inputs.map((labels, i) => {
    const s = strides(ts[i]!.shape);
    return loop.map((l) => labels.reduce((acc, m, k) => (m === l && ts[i]!.shape[k] !== 1 ? acc + s[k]! : acc), 0));
  });
  const outShape = spec.output.map((l) => size.get(l)!);
  const nOut = numel(outShape);
  const nSum = numel(dims.slice(spec.output.length));
  const vals = ts.map((t) => Float64Array.from(t.data as ArrayLike<number>, Number));
  const acc = new Float64Array(nOut);
  const at = new Array<number>(loop.length).fill(0);
  const offs = new Array<number>(ts.length).fill(0);
  const total = nOut * nSum;
  for (let i = 0; i < total; i++) {
    let p = 1;
    for (let t = 0; t < ts.length; t++) p *= vals[t]![offs[t]!]!;
    acc[Math.floor(i / nSum)]! += p;
    for (let k = loop.length - 1; k >= 0; k--) {
      at[k]!++;
      for (let t = 0; t < ts.length; t++) offs[t]! += opStrides[t]![k]!;
      if (at[k]! < dims[k]!) break;
      for (let t = 0; t < ts.length; t++) offs[t]! -= opStrides[t]![k]! * dims[k]!;
      at[k] = 0;
    }
  }
  const out = Tensor.zeros(ts[0]!.dtype, outShape);
  out.setAll(isFloat(out.dtype) ? acc : acc.map(Math.trunc));
  return [out];
});
