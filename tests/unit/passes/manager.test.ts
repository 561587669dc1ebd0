/** The pass manager: registry, pipeline syntax and its errors, verify-each, IR dumps, timing, traces and plugins. */
import { join } from 'node:path';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Node, Value, tensorType } from '../../../src/ir/index.js';
import { allPasses, definePass, getPass, loadPlugin, parsePipeline, registerPass, runPipeline } from '../../../src/passes/index.js';
import { ROOT } from '../../helpers/shared.js';

const probe = definePass({
  name: 'test-probe',
  summary: 'records its options',
  description: 'x → x',
  options: {
    alpha: { type: 'number', default: 0.5, doc: 'a number' },
    auto: { type: 'boolean', default: false, doc: 'a flag' },
    recipe: { type: 'string', default: 'w8a8', doc: 'a name' },
  },
  run(_model, options, ctx) {
    ctx.log(`probe ${options.alpha} ${options.auto} ${options.recipe}`);
  },
});
registerPass(probe);

/** A pass that breaks the IR: it adds a Relu of the wrong result type. */
registerPass(definePass({
  name: 'test-breaker', summary: 'breaks the IR', description: 'x → invalid', options: {},
  run(model) {
    const g = model.graph;
    const out = new Value('bad', tensorType('f32', [7]));
    g.nodes.push(new Node('onnx.Relu', [g.inputs[0]!], [out]));
  },
}));

function model(): Model {
  const g = new Graph('main');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', [4]));
  b.output(b.op('onnx.Relu', [b.op('onnx.Identity', [x])]));
  return new Model(g);
}

describe('registry', () => {
  it('lists the built-in passes with summaries, descriptions and typed options', () => {
    const names = allPasses().map((p) => p.name);
    for (const n of ['canonicalize', 'fold-constants', 'dce', 'cse', 'fold-batchnorm', 'fuse-matmul-add', 'fuse-gelu', 'fuse-layernorm', 'fuse-rmsnorm']) {
      expect(names).toContain(n);
      const p = getPass(n)!;
      expect(p.summary.length).toBeGreaterThan(0);
      expect(p.description).toMatch(/→/);
    }
    expect(getPass('fold-constants')!.options['max-elements']).toMatchObject({ type: 'number' });
  });

  it('rejects names that are not kebab-case and a second pass with a taken name', () => {
    expect(() => registerPass({ ...probe, name: 'NotKebab' })).toThrow(/not kebab-case/);
    expect(() => registerPass({ ...probe })).toThrow(/already registered/);
    expect(() => registerPass(probe)).not.toThrow();
  });
});

describe('parsePipeline', () => {
  it('parses names and typed options, filling in defaults', () => {
    const steps = parsePipeline(' canonicalize , test-probe{alpha=0.25,auto=true, recipe = "w4a16"},dce');
    expect(steps.map((s) => s.pass.name)).toEqual(['canonicalize', 'test-probe', 'dce']);
    expect(steps[1]!.options).toEqual({ alpha: 0.25, auto: true, recipe: 'w4a16' });
    expect(parsePipeline('test-probe')[0]!.options).toEqual({ alpha: 0.5, auto: false, recipe: 'w8a8' });
    expect(parsePipeline('')).toEqual([]);
  });

  it.each([
    ['canonicalize,no-such-pass', /unknown pass 'no-such-pass'/],
    ['test-probe{beta=1}', /pass 'test-probe' has no option 'beta' \(options: alpha, auto, recipe\)/],
    ['test-probe{alpha=abc}', /option 'alpha' of pass 'test-probe' must be a number, got 'abc'/],
    ['test-probe{auto=yes}', /option 'auto' of pass 'test-probe' must be a boolean, got 'yes'/],
    ['test-probe{alpha}', /option 'alpha' of pass 'test-probe' needs a value/],
    ['test-probe{alpha=1', /unclosed '\{'/],
    ['canonicalize,,dce', /malformed pipeline element/],
    ['dce{x=1}', /pass 'dce' has no option 'x' \(it takes no options\)/],
  ])('%s is a usage error', (text, message) => {
    expect(() => parsePipeline(text)).toThrow(message);
  });
});

describe('runPipeline', () => {
  it('runs the passes in order with their options', async () => {
    const m = model();
    const log: string[] = [];
    await runPipeline(m, 'canonicalize,test-probe{alpha=2}', { log: (s) => log.push(s) });
    expect(m.graph.nodes.map((n) => n.op)).toEqual(['onnx.Relu']);
    expect(log).toEqual(['probe 2 false w8a8']);
  });

  it('verifies after each pass and names the pass that broke the IR', async () => {
    await expect(runPipeline(model(), 'test-breaker,dce', { verifyEach: true })).rejects.toThrow(/the IR is invalid after pass 'test-breaker'/);
    await expect(runPipeline(model(), 'test-breaker', {})).resolves.toBeDefined();
  });

  it('prints the IR after the named passes, or after all', async () => {
    const log: string[] = [];
    await runPipeline(model(), 'canonicalize,dce', { printAfter: ['canonicalize'], log: (s) => log.push(s) });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^\/\/ IR after canonicalize\ngraph @main\(%x: f32\[4\]\) -> f32\[4\] \{\n  %relu = onnx.Relu\(%x\)/);
    const all: string[] = [];
    await runPipeline(model(), 'canonicalize,dce', { printAfterAll: true, log: (s) => all.push(s) });
    expect(all.map((s) => s.split('\n')[0])).toEqual(['// IR after canonicalize', '// IR after dce']);
    await expect(runPipeline(model(), 'dce', { printAfter: ['nope'] })).rejects.toThrow(/--print-after names unknown pass 'nope'/);
  });

  it('reports timings and rule traces', async () => {
    const log: string[] = [];
    const timings = await runPipeline(model(), 'canonicalize,dce', { timing: true, trace: true, log: (s) => log.push(s) });
    expect(timings.map((t) => t.pass)).toEqual(['canonicalize', 'dce']);
    expect(log).toContain('[canonicalize] identity on onnx.Identity (output identity): applied');
    expect(log.at(-1)).toMatch(/^pass timing:\n  canonicalize .* ms\n  dce .* ms\n  total .* ms$/);
  });
});

describe('loadPlugin', () => {
  it('registers the passes a module exports (examples/custom-pass)', async () => {
    const passes = await loadPlugin(join(ROOT, 'examples/custom-pass/div-to-mul.ts'));
    expect(passes.map((p) => p.name)).toEqual(['div-to-mul']);
    expect(getPass('div-to-mul')).toBe(passes[0]);
    await loadPlugin(join(ROOT, 'examples/custom-pass/div-to-mul.ts'));
  });

  it('accepts an exported array of passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lutra-plugin-'));
    const file = join(dir, 'two.mjs');
    const pass = (name: string) => `{ name: '${name}', summary: 's', description: 'a → b', options: {}, run() {} }`;
    writeFileSync(file, `export const passes = [${pass('plugin-one')}, ${pass('plugin-two')}];\n`);
    expect((await loadPlugin(file)).map((p) => p.name)).toEqual(['plugin-one', 'plugin-two']);
  });

  it('says why a module cannot be used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lutra-plugin-'));
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const x = 1;\n');
    await expect(loadPlugin(empty)).rejects.toThrow(/exports no passes/);
    await expect(loadPlugin(join(dir, 'missing.mjs'))).rejects.toThrow(/cannot load plugin/);
  });
});
