/**
 * @fileoverview The built-in recipes, written exactly as a user's recipe JSON file would be
 * (they go through the same validation). docs/recipes.md explains each choice.
 */

/**
 * Static W8A8: the ONNX Runtime QDQ default layout (s8 per-channel weights, u8 per-tensor
 * activations), with MSE-chosen activation clip ranges (docs/recipes.md says why).
 */
const w8a8 = {
  name: 'w8a8',
  description: 'int8 per-channel symmetric weights, uint8 per-tensor asymmetric static activations clipped for least MSE (ORT QDQ layout)',
  defaults: {
    weights: { type: 'int8', granularity: 'channel', symmetric: true, rounding: 'rtn' },
    activations: { type: 'uint8', granularity: 'tensor', symmetric: false, observer: { kind: 'mse' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** Dynamic W8A8: activation ranges computed at run time (ORT DynamicQuantizeLinear is uint8 only). */
const w8a8Dynamic = {
  name: 'w8a8-dynamic',
  description: 'int8 per-channel symmetric weights, uint8 per-tensor asymmetric activations quantized at run time',
  defaults: {
    weights: { type: 'int8', granularity: 'channel', symmetric: true, rounding: 'rtn' },
    activations: { type: 'uint8', granularity: 'tensor', symmetric: false, observer: { kind: 'minmax' }, mode: 'dynamic' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** W8A16: int8 weights with 16-bit static activations, for models whose activations need the range. */
const w8a16 = {
  name: 'w8a16',
  description: 'int8 per-channel symmetric weights, int16 per-tensor symmetric static activations',
  defaults: {
    weights: { type: 'int8', granularity: 'channel', symmetric: true, rounding: 'rtn' },
    activations: { type: 'int16', granularity: 'tensor', symmetric: true, observer: { kind: 'minmax' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** W4A16: weight-only 4-bit, asymmetric groups of 128 along the reduction axis (AWQ/GPTQ layout). */
const w4a16 = {
  name: 'w4a16',
  description: 'int4 asymmetric weights in groups of 128 along the reduction axis; activations stay float',
  defaults: {
    weights: { type: 'int4', granularity: 'group', group: 128, symmetric: false, rounding: 'rtn' },
    activations: null,
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** W4A8: int4 symmetric group-128 weights with int8 symmetric static activations. */
const w4a8 = {
  name: 'w4a8',
  description: 'int4 symmetric weights in groups of 128, int8 per-tensor symmetric static activations',
  defaults: {
    weights: { type: 'int4', granularity: 'group', group: 128, symmetric: true, rounding: 'rtn' },
    activations: { type: 'int8', granularity: 'tensor', symmetric: true, observer: { kind: 'minmax' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** FP8: e4m3 weights and static activations, one scale per tensor. */
const fp8 = {
  name: 'fp8',
  description: 'float8 e4m3 weights and static activations, per-tensor scales',
  defaults: {
    weights: { type: 'fp8e4m3', granularity: 'tensor', symmetric: true, rounding: 'rtn' },
    activations: { type: 'fp8e4m3', granularity: 'tensor', symmetric: true, observer: { kind: 'minmax' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/**
 * LLM.int8(): input columns where calibration saw |x| ≥ 6 go through a float MatMul (the
 * `llm-int8` pass), the rest is w8a8; the float branches are excluded by name.
 */
const w8a8LlmInt8 = {
  ...w8a8,
  name: 'w8a8-llmint8',
  description: 'LLM.int8() decomposition: outlier input columns (|x| ≥ 6 in calibration) in a float MatMul, the rest w8a8',
  passes: 'llm-int8',
  exclude: { ops: [], names: ['/llm_int8_outliers$'] },
};

/** SmoothQuant (α = 0.5) migrates activation outliers into the weights, then w8a8. */
const w8a8SmoothQuant = {
  ...w8a8,
  name: 'w8a8-smoothquant',
  description: 'SmoothQuant (alpha 0.5, folded into the norms) then w8a8',
  passes: 'smooth-quant{alpha=0.5}',
};

/** Outlier Suppression+: channel shift and searched scale folded into the norms, then w8a8. */
const w8a8OsPlus = {
  ...w8a8,
  name: 'w8a8-osplus',
  description: 'Outlier Suppression+ (shift and threshold-searched scale, folded into the norms) then w8a8',
  passes: 'os-plus',
};

/** OutlierTune: per-channel activation scales and shifts pre-executed into the norms and weights, then w8a8. */
const w8a8OutlierTune = {
  ...w8a8,
  name: 'w8a8-outliertune',
  description: 'OutlierTune (every channel shifted and scaled to one amplitude, folded into norms and weights) then w8a8',
  passes: 'outlier-tune',
};

/** AWQ activation-aware scales, then int4 group-128 weights with per-group clip search. */
const w4a16Awq = {
  ...w4a16,
  name: 'w4a16-awq',
  description: 'AWQ scale search folded into the norms, then int4 asymmetric group-128 weights with clip search; activations float',
  passes: 'awq',
  defaults: { ...w4a16.defaults, weights: { ...w4a16.defaults.weights, rounding: 'clip' } },
};

/** W3A16: weight-only 3-bit (int4 storage, range [−4, 3]), asymmetric groups of 128. */
const w3a16 = {
  ...w4a16,
  name: 'w3a16',
  description: 'int3 asymmetric weights (held in int4) in groups of 128 along the reduction axis; activations stay float',
  defaults: { ...w4a16.defaults, weights: { ...w4a16.defaults.weights, type: 'int3' } },
};

/** AWQ searched for 3-bit weights, then W3A16 with clip search. */
const w3a16Awq = {
  ...w3a16,
  name: 'w3a16-awq',
  description: 'AWQ scale search (int3) folded into the norms, then int3 asymmetric group-128 weights with clip search; activations float',
  passes: 'awq{format=int3}',
  defaults: { ...w3a16.defaults, weights: { ...w3a16.defaults.weights, rounding: 'clip' } },
};

/** W6A6: 6-bit values in 8-bit storage (int6 per-channel weights, uint6 per-tensor activations, MSE ranges). */
const w6a6 = {
  name: 'w6a6',
  description: 'int6 per-channel symmetric weights, uint6 per-tensor asymmetric static activations clipped for least MSE (held in int8 / uint8)',
  defaults: {
    weights: { type: 'int6', granularity: 'channel', symmetric: true, rounding: 'rtn' },
    activations: { type: 'uint6', granularity: 'tensor', symmetric: false, observer: { kind: 'mse' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** RepQ-ViT at six bits. */
const w6a6Repq = {
  ...w6a6,
  name: 'w6a6-repq',
  description: 'RepQ-ViT: repq-ln (uint6) and repq-softmax (6-bit log√2), then w6a6',
  passes: 'repq-ln{format=uint6},repq-softmax{bits=6}',
};

/** RepQ-ViT: post-norm per-channel ranges reparameterized to per tensor, log√2 attention probabilities, W4A4. */
const w4a4Repq = {
  name: 'w4a4-repq',
  description: 'RepQ-ViT: repq-ln (uint4) and repq-softmax, then int4 per-channel weights and uint4 per-tensor activations',
  passes: 'repq-ln{format=uint4},repq-softmax{bits=4}',
  defaults: {
    weights: { type: 'int4', granularity: 'channel', symmetric: true, rounding: 'rtn' },
    activations: { type: 'uint4', granularity: 'tensor', symmetric: false, observer: { kind: 'mse' }, mode: 'static' },
  },
  rules: [],
  exclude: { ops: [], names: [] },
};

/** Built-in recipes by name, as unvalidated JSON values. */
export const BUILTIN_RECIPES: Readonly<Record<string, unknown>> = {
  w8a8,
  'w8a8-llmint8': w8a8LlmInt8,
  'w8a8-smoothquant': w8a8SmoothQuant,
  'w8a8-osplus': w8a8OsPlus,
  'w8a8-outliertune': w8a8OutlierTune,
  'w8a8-dynamic': w8a8Dynamic,
  w8a16,
  w4a16,
  'w4a16-awq': w4a16Awq,
  w4a8,
  'w4a4-repq': w4a4Repq,
  w6a6,
  'w6a6-repq': w6a6Repq,
  w3a16,
  'w3a16-awq': w3a16Awq,
  fp8,
};
