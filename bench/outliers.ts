/**
 * @fileoverview The outlier-method matrix: model × method × format through the CLI
 * (`lutra quantize` with a generated recipe, then `lutra eval` on the eval set; the metric comes
 * from ONNX Runtime running the exported QDQ model). Each cell: the metric, the output SQNR
 * against the float model on the eval set, and the quantize time.
 *
 *   npm run bench:outliers                         (needs ../shared/corpus; about an hour on 2 cores)
 *   BENCH_ONLY=digits_vit npm run bench:outliers   (models whose name contains the string)
 *   BENCH_METHODS=naive,awq npm run bench:outliers (a subset of the methods)
 *
 * Activation methods run on the formats with quantized activations, weight-only ones on W4A16
 * and W3A16; a '-' cell is a combination that does not apply. char_lm models calibrate on 16
 * samples (the searches dominate the time), digits_vit models on 64.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = process.env.LUTRA_SHARED ? join(process.env.LUTRA_SHARED, 'corpus') : resolve(ROOT, '../shared/corpus');

interface Format {
  name: string;
  weights: Record<string, unknown>;
  /** undefined: weight-only. */
  activations?: { type: string; granularity: 'tensor'; symmetric: false; observer: { kind: 'mse' }; mode: 'static' };
}
const act = (type: string): Format['activations'] => ({ type, granularity: 'tensor', symmetric: false, observer: { kind: 'mse' }, mode: 'static' });
const FORMATS: Format[] = [
  { name: 'W8A8', weights: { type: 'int8', granularity: 'channel', symmetric: true }, activations: act('uint8') },
  { name: 'W6A6', weights: { type: 'int6', granularity: 'channel', symmetric: true }, activations: act('uint6') },
  { name: 'W4A4', weights: { type: 'int4', granularity: 'channel', symmetric: true }, activations: act('uint4') },
  { name: 'W4A16', weights: { type: 'int4', granularity: 'group', group: 128, symmetric: false } },
  { name: 'W3A16', weights: { type: 'int3', granularity: 'group', group: 128, symmetric: false } },
];

/** A method: the recipe's pass pipeline and weight rounding for a format, or undefined where it does not apply. */
interface Method { name: string; recipe(f: Format): { passes?: string; rounding: string } | undefined }
const actFmt = (f: Format) => f.activations!.type;
const bitsOf = (f: Format) => Number(/\d+/.exec(actFmt(f))![0]);
const onActs = (build: (f: Format) => string) => (f: Format) => (f.activations ? { passes: build(f), rounding: 'rtn' } : undefined);
const weightFormat = (f: Format) => String(f.weights.type);
const METHODS: Method[] = [
  { name: 'naive', recipe: () => ({ rounding: 'rtn' }) },
  { name: 'smooth-quant α=0.5', recipe: onActs(() => 'smooth-quant{alpha=0.5}') },
  { name: 'smooth-quant auto', recipe: onActs((f) => `smooth-quant{alpha=auto,weight-type=${weightFormat(f)},act-type=${actFmt(f)}}`) },
  { name: 'os-plus', recipe: onActs(() => 'os-plus') },
  { name: 'outlier-tune', recipe: onActs(() => 'outlier-tune') },
  { name: 'repq', recipe: onActs((f) => `repq-ln{format=${actFmt(f)}},repq-softmax{bits=${bitsOf(f)}}`) },
  { name: 'llm-int8', recipe: (f) => (f.name === 'W8A8' ? { passes: 'llm-int8', rounding: 'rtn' } : undefined) },
  { name: 'gptq', recipe: () => ({ rounding: 'gptq' }) },
  { name: 'awq', recipe: (f) => (f.activations ? undefined : { passes: `awq{format=${weightFormat(f)}}`, rounding: 'clip' }) },
  { name: 'awq + gptq', recipe: (f) => (f.activations ? undefined : { passes: `awq{format=${weightFormat(f)}}`, rounding: 'gptq' }) },
  { name: 'channel-permute', recipe: (f) => (f.activations ? undefined : { passes: 'channel-permute', rounding: 'rtn' }) },
];
const MODELS: [model: string, samples: number][] = [['digits_vit', 64], ['digits_vit_outlier', 64], ['char_lm', 16], ['char_lm_outlier', 16]];

function lutra(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`lutra ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

interface EvalJson { metric: string; backends: { backend: string; reference: { metric: number | null }; candidate: { metric: number | null }; comparison: { sqnrDb: number | string } }[] }

if (!existsSync(CORPUS)) {
  console.error(`bench/outliers: ${CORPUS} not found`);
  process.exit(1);
}
const only = process.env.BENCH_ONLY;
const methodNames = process.env.BENCH_METHODS?.split(',');
const methods = METHODS.filter((m) => !methodNames || methodNames.includes(m.name));
const tmp = mkdtempSync(join(tmpdir(), 'lutra-bench-outliers-'));
const tables: string[] = [];
try {
  for (const [model, samples] of MODELS) {
    if (only && !model.includes(only)) continue;
    const dir = join(CORPUS, model);
    let float = '';
    const cells = new Map<string, string>();
    for (const f of FORMATS) {
      for (const m of methods) {
        const r = m.recipe(f);
        if (!r) continue;
        const recipe = {
          name: `${f.name} ${m.name}`,
          ...(r.passes ? { passes: r.passes } : {}),
          defaults: { weights: { ...f.weights, rounding: r.rounding }, activations: f.activations ?? null },
          // llm-int8's float branches stay float
          ...(m.name === 'llm-int8' ? { exclude: { ops: [], names: ['/llm_int8_outliers$'] } } : {}),
        };
        const file = join(tmp, 'recipe.json');
        writeFileSync(file, JSON.stringify(recipe));
        const out = join(tmp, 'q.onnx');
        let cell: string;
        try {
          const q = JSON.parse(lutra(['quantize', join(dir, 'model.onnx'), '--recipe', file, '--calib', join(dir, 'calib'), '--samples', String(samples), '-o', out, '--skip-check', '--json'])) as { seconds: number };
          const e = JSON.parse(lutra(['eval', join(dir, 'model.onnx'), out, '--data', join(dir, 'eval'), '--labels', join(dir, 'eval/labels.pb'), '--backend', 'ort', '--json'])) as EvalJson;
          const b = e.backends[0]!;
          const fmt = (x: number | null) => (x === null ? '?' : e.metric === 'bpc' ? x.toFixed(4) : `${(100 * x).toFixed(2)} %`);
          float = `${fmt(b.reference.metric)}${e.metric === 'bpc' ? ' bpc' : ''}`;
          const sqnr = typeof b.comparison.sqnrDb === 'number' ? b.comparison.sqnrDb.toFixed(1) : String(b.comparison.sqnrDb);
          cell = `${fmt(b.candidate.metric)}, ${sqnr} dB (${q.seconds.toFixed(1)} s)`;
        } catch (err) {
          cell = `error: ${(err as Error).message.split('\n').filter(Boolean).pop()}`;
        }
        cells.set(`${m.name}|${f.name}`, cell);
        console.error(`${model} ${f.name} ${m.name}: ${cell}`);
      }
    }
    const lines = [`### ${model} (float ${float}; ${samples} calibration samples)`, '', `| method | ${FORMATS.map((f) => f.name).join(' | ')} |`,
      `| --- |${FORMATS.map(() => ' --- |').join('')}`];
    for (const m of methods) lines.push(`| ${m.name} | ${FORMATS.map((f) => cells.get(`${m.name}|${f.name}`) ?? '-').join(' | ')} |`);
    tables.push(lines.join('\n'));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(tables.join('\n\n'));
