/**
 * @fileoverview Resize (nearest / linear / cubic) and its opset 7-9 form Upsample. The output
 * geometry (`resizeGeometry`) lives here once and is shared by type inference and the kernel.
 */
import { registerOp, type AttrSpec, type InferCtx } from '../registry.js';
import { Tensor } from '../tensor.js';
import type { TensorType } from '../types.js';
import { float, hint, int, need, optInts, str, unknownRank } from './shape-common.js';

const RESIZE_ATTRS: Record<string, AttrSpec> = {
  antialias: int(0), axes: optInts, coordinate_transformation_mode: str('half_pixel'), cubic_coeff_a: float(-0.75),
  exclude_outside: int(0), extrapolation_value: float(0), keep_aspect_ratio_policy: str('stretch'), mode: str('nearest'),
  nearest_mode: str('round_prefer_floor'),
};

/**
 * Output sizes and per-dim scales of a Resize over `shape`, from constant `scales` or `sizes`
 * for `axes` (all dims by default), applying keep_aspect_ratio_policy.
 */
export function resizeGeometry(shape: readonly number[], axes: readonly number[] | undefined, scales: readonly number[] | undefined,
  sizes: readonly number[] | undefined, policy: string): { sizes: number[]; scales: number[] } {
  const r = shape.length;
  const ax = (axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const sc = new Array<number>(r).fill(1);
  const out = [...shape];
  if (sizes && sizes.length > 0) {
    if (sizes.length !== ax.length) throw new Error(`sizes has ${sizes.length} entries for ${ax.length} axes`);
    ax.forEach((a, i) => { sc[a] = sizes[i]! / shape[a]!; out[a] = sizes[i]!; });
    if (policy !== 'stretch') {
      const pick = ax.map((a) => sc[a]!);
      const s = policy === 'not_larger' ? Math.min(...pick) : Math.max(...pick);
      for (const a of ax) { sc[a] = s; out[a] = Math.floor(s * shape[a]! + 0.5); }
    }
  } else if (scales && scales.length > 0) {
    if (scales.length !== ax.length) throw new Error(`scales has ${scales.length} entries for ${ax.length} axes`);
    ax.forEach((a, i) => { sc[a] = scales[i]!; out[a] = Math.floor(shape[a]! * scales[i]!); });
  } else {
    throw new Error('Resize needs scales or sizes');
  }
  return { sizes: out, scales: sc };
}

/** A constant float/int input's values, undefined when absent, not constant or empty. */
const constValues = (ctx: InferCtx, i: number): number[] | undefined => {
  const t = ctx.inputs[i] ? ctx.constant(i) : undefined;
  return t && t.size > 0 ? t.toNumbers() : undefined;
};

function inferResize(ctx: InferCtx): TensorType[] {
  const x = need(ctx, 0);
  if (!x.shape) return unknownRank(x);
  const axes = (ctx.node.attrs.axes as number[] | undefined);
  const scales = constValues(ctx, 2);
  const sizes = constValues(ctx, 3);
  const policy = ctx.attr<string>('keep_aspect_ratio_policy');
  if (!scales && !sizes) return [{ dtype: x.dtype, shape: x.shape.map(() => '?') }];
  // symbolic dims survive where the scale is 1
  const probe = x.shape.map((d) => (typeof d === 'number' ? d : 1));
  try {
    const g = resizeGeometry(probe, axes, scales, sizes, policy);
    const resized = (axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + x.shape!.length : a));
    const keeps = (i: number) => !resized.includes(i) || (!sizes && g.scales[i] === 1);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? g.sizes[i]! : keeps(i) ? d : '?')) }];
  } catch (e) {
    return ctx.fail((e as Error).message);
  }
}

registerOp({
  name: 'onnx.Resize', summary: 'resize by scales or sizes: nearest / linear / cubic with every coordinate transformation mode',
  inputs: [1, 4], outputs: [1, 1], attrs: RESIZE_ATTRS, since: 19, infer: inferResize,
  upgrade: (node, ctx) => {
    if (ctx.opset >= 11) return;
    // Resize-10: (X, scales), asymmetric coordinates, nearest rounds down
    node.inputs = [node.inputs[0]!, null, node.inputs[1]!];
    node.attrs.coordinate_transformation_mode = 'asymmetric';
    if ((node.attrs.mode ?? 'nearest') === 'nearest') node.attrs.nearest_mode = 'floor';
  },
});

registerOp({
  name: 'onnx.Upsample', summary: 'opset 7-9 upsampling by scales (renamed to Resize, asymmetric, on import)',
  inputs: [1, 2], outputs: [1, 1], attrs: { mode: str('nearest'), scales: { kind: 'floats', optional: true } },
  infer: (ctx) => ctx.fail('Upsample is converted to Resize on import'),
  upgrade: (node, ctx) => {
    const scales = node.attrs.scales as number[] | undefined;
    delete node.attrs.scales;
    const s = scales ? ctx.constant(Tensor.from('f32', [scales.length], scales), hint(node, 'scales')) : node.inputs[1]!;
    node.op = 'onnx.Resize';
    node.inputs = [node.inputs[0]!, null, s];
    const mode = node.attrs.mode === 'bilinear' ? 'linear' : ((node.attrs.mode as string | undefined) ?? 'nearest');
    node.attrs.mode = mode;
    node.attrs.coordinate_transformation_mode = 'asymmetric';
    if (mode === 'nearest') node.attrs.nearest_mode = 'floor';
  },
});
