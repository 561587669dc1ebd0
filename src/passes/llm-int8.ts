/**
 * @fileoverview `llm-int8`: LLM.int8() mixed-precision decomposition (techniques §6). Input
 * channels of a linear layer where calibration saw any |x| ≥ threshold are *outlier columns*;
 * they go through a float MatMul with the matching weight rows, the rest through the layer the
 * quantize step makes int8:
 *
 *   Y = X·W + b  →  Y = (X[:, R]·W[R, :] + b) + X[:, O]·W[O, :]
 *
 * The float branch's MatMul is named `<layer>/llm_int8_outliers`; recipes exclude it from
 * quantization by name (built-in `w8a8-llmint8`). In float the split model computes the same
 * sums in another order.
 */
import { Builder, constantOf } from '../ir/builder.js';
import { fail } from '../ir/diagnostics.js';
import type { Graph, Node } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { siteStats } from '../quant/migrate.js';
import { eraseDead } from '../rewrite/erase.js';
import { nodeMatchName } from '../quant/recipe.js';
import { definePass, registerPass } from './manager.js';

/** The suffix of the float outlier branch's node name: recipes exclude `/llm_int8_outliers$`. */
export const OUTLIER_SUFFIX = '/llm_int8_outliers';

/** Whether `n` is a Gemm whose B is stored [N, K]. */
const transposedB = (n: Node): boolean => n.op === 'onnx.Gemm' && getAttr<number>(n, 'transB') === 1;

/**
 * MatMul / fused.MatMulAdd / Gemm (plain A, alpha 1: the float branch has no alpha) nodes with an
 * activation input and a constant 2-D weight.
 */
function linears(g: Graph): Node[] {
  const plainGemm = (n: Node) => n.op === 'onnx.Gemm' && getAttr<number>(n, 'transA') === 0 && getAttr<number>(n, 'alpha') === 1;
  return g.nodes.filter((n) => (n.op === 'onnx.MatMul' || n.op === 'fused.MatMulAdd' || plainGemm(n))
    && n.inputs[0] && !n.inputs[0].isConst && constantOf(g, n.inputs[1]!)?.rank === 2 && !n.name.endsWith(OUTLIER_SUFFIX));
}

/** Rows `rows` of a [K, N] weight. */
function weightRows(w: Tensor, rows: readonly number[]): Tensor {
  const n = w.shape[1]!;
  const src = w.data as Float32Array;
  const out = Tensor.zeros(w.dtype, [rows.length, n]);
  const dst = out.data as Float32Array;
  rows.forEach((r, i) => dst.set(src.subarray(r * n, (r + 1) * n), i * n));
  return out;
}

/** Input channels `ks` of a weight stored [N, K] (Gemm transB), as [N, |ks|], or transposed to [|ks|, N]. */
function weightColumns(w: Tensor, ks: readonly number[], transpose: boolean): Tensor {
  const [n, k] = w.shape as [number, number];
  const src = w.data as Float32Array;
  const out = Tensor.zeros(w.dtype, transpose ? [ks.length, n] : [n, ks.length]);
  const dst = out.data as Float32Array;
  for (let r = 0; r < n; r++) ks.forEach((c, i) => { dst[transpose ? i * n + r : r * ks.length + i] = src[r * k + c]!; });
  return out;
}

/** Split `node` at `outliers` (sorted input channels). */
function decompose(g: Graph, node: Node, outliers: number[]): void {
  const x = node.inputs[0]!;
  const wv = node.inputs[1]!;
  const w = constantOf(g, wv)!;
  const tb = transposedB(node);
  const k = w.shape[tb ? 1 : 0]!;
  const set = new Set(outliers);
  const rest = Array.from({ length: k }, (_, i) => i).filter((i) => !set.has(i));
  const name = nodeMatchName(node);
  const b = new Builder(g);
  b.insertionPoint = node;
  const idx = (ids: number[], hint: string) => b.constant(`${x.name}_${hint}_channels`, Tensor.from('i64', [ids.length], ids.map(BigInt)));
  const xr = b.op('onnx.Gather', [x, idx(rest, 'int8')], { axis: -1 }, { out: `${x.name}_int8_part` });
  const xo = b.op('onnx.Gather', [x, idx(outliers, 'outlier')], { axis: -1 }, { out: `${x.name}_outlier_part` });
  // the int8 part keeps the weight's layout; the float branch is a MatMul on [|O|, N] rows
  const wr = b.constant(`${wv.name}_int8_rows`, tb ? weightColumns(w, rest, false) : weightRows(w, rest));
  const wo = b.constant(`${wv.name}_outlier_rows`, tb ? weightColumns(w, outliers, true) : weightRows(w, outliers));
  const yo = b.op('onnx.MatMul', [xo, wo], {}, { name: `${name}${OUTLIER_SUFFIX}`, out: `${node.outputs[0]!.name}_outliers` });
  // the int8 part keeps the node (its name, bias and output), reading the remaining channels
  node.inputs[0] = xr;
  node.inputs[1] = wr;
  const y = node.outputs[0]!;
  const after = g.nodes[g.nodes.indexOf(node) + 1];
  b.insertionPoint = after;
  const uses = g.useMap().get(y) ?? [];
  const sum = b.op('onnx.Add', [y, yo], {}, { name: `${name}/llm_int8_sum`, out: `${y.name}_llm_int8` });
  for (const u of uses) u.inputs = u.inputs.map((v) => (v === y ? sum : v));
  g.outputs = g.outputs.map((v) => (v === y ? sum : v));
  eraseDead(g, [wv]);
}

export const llmInt8 = definePass({
  name: 'llm-int8',
  summary: 'LLM.int8(): outlier input columns (|x| ≥ threshold in calibration) of each linear go through a float MatMul, the rest stays for int8',
  description: `Before: %y = onnx.MatMul(%x, %w : [K,N]) (or MatMulAdd, or a Gemm with alpha 1; a transB weight keeps its layout).
After: %y = onnx.MatMul(Gather(%x, R), %w[R]) (quantized later); %y_outliers = onnx.MatMul(Gather(%x, O), %w[O]) named "<layer>${OUTLIER_SUFFIX}" (kept float);
%y_llm_int8 = onnx.Add(%y, %y_outliers).`,
  options: {
    threshold: { type: 'number', default: 6, doc: 'an input channel is an outlier column when calibration saw |x| ≥ threshold in it' },
    'max-fraction': { type: 'number', default: 0.1, doc: 'skip a layer whose outlier columns exceed this fraction of K (the split would not pay)' },
    calib: { type: 'string', default: '', doc: 'calibration data directory (default: the run\'s --calib)' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = the run\'s, or all)' },
  },
  run(model, o, ctx) {
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'llm-int8 measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    const g = model.graph;
    const nodes = linears(g);
    const stats = siteStats(g, [...new Set(nodes.map((n) => n.inputs[0]!))], calib, o.samples > 0 ? o.samples : ctx.samples);
    let split = 0;
    for (const node of nodes) {
      const absMax = stats.get(node.inputs[0]!)?.absMax;
      if (!absMax) continue;
      const outliers = Array.from(absMax.keys()).filter((j) => absMax[j]! >= o.threshold);
      if (outliers.length === 0) continue;
      const k = absMax.length;
      if (outliers.length > o['max-fraction'] * k) {
        ctx.log(`llm-int8: ${node.describe()}: ${outliers.length} of ${k} input channels reach ${o.threshold}; more than max-fraction ${o['max-fraction']}, left whole`);
        continue;
      }
      decompose(g, node, outliers);
      split++;
      ctx.log(`llm-int8: ${node.describe()}: ${outliers.length} of ${k} input channels in float (max |x| ${Math.max(...outliers.map((j) => absMax[j]!)).toFixed(1)})`);
    }
    ctx.log(`llm-int8: ${split} of ${nodes.length} linear layers split`);
  },
});

registerPass(llmInt8);
