/**
 * The browser example (examples/web/) in headless Chromium: a digits_cnn artifact compiled by
 * `lutra compile`, served with the page from 127.0.0.1, classifies the eval set; the page's
 * predictions and logits equal the same artifact run in Node through the runtime, its accuracy is
 * the float model's (ONNX Runtime's reference outputs), and the console stays clean.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvalJson, writeEvalJson } from '../../examples/web/prepare.js';
import { readDataDir } from '../../src/frontends/onnx/testdata.js';
import { loadArtifact } from '../../src/runtime/executor.js';
import { findChromium, missingChromiumMessage } from '../helpers/browser.js';
import { lutra } from '../helpers/cli.js';
import { CORPUS, HAS_SHARED, ROOT } from '../helpers/shared.js';
import { type StaticServer, serveStatic } from '../helpers/static-server.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn(missingChromiumMessage('tests/e2e/web.test.ts'));

const MODEL = 'digits_cnn';

/** What main.js publishes as window.lutraDemo. */
interface Demo { predictions: number[]; logits: number[][]; labels: number[]; accuracy: number; msPerSample: number }

const argmax = (xs: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
};

describe.skipIf(!HAS_SHARED || !CHROMIUM)('examples/web in headless Chromium', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-web-'));
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let data: EvalJson;

  beforeAll(async () => {
    const dir = join(CORPUS, MODEL);
    const r = await lutra('compile', join(dir, 'model.onnx'), '-o', join(tmp, 'artifact'));
    expect(r.code, r.stderr).toBe(0);
    data = writeEvalJson(join(dir, 'eval'), join(tmp, 'eval.json'));
    server = await serveStatic([join(ROOT, 'examples/web'), tmp]);
    // The flags the machine notes recommend: no sandbox as root, no background network traffic.
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('classifies the eval set like the runtime in Node, at the float model accuracy, with a clean console', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('requestfailed', (q) => problems.push(`request failed: ${q.url()}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    await page.goto(server!.url);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 15_000 });
    const status = await page.textContent('#status');
    expect(await page.getAttribute('body', 'data-state'), status ?? '').toBe('done');
    const demo = (await page.evaluate('window.lutraDemo')) as Demo;

    // The same artifact in Node, one sample per call as the page does.
    const m = await loadArtifact(join(tmp, 'artifact'));
    const x = Float32Array.from(data.inputs);
    const per = data.shape.reduce((a, b) => a * b, 1);
    const nodeLogits: Float32Array[] = [];
    for (let i = 0; i < data.count; i++) {
      const out = await m.run({ [m.inputNames[0]!]: x.subarray(i * per, (i + 1) * per) });
      nodeLogits.push(out[m.outputNames[0]!] as Float32Array);
    }
    expect(demo.predictions).toHaveLength(data.count);
    expect(demo.predictions).toEqual(nodeLogits.map(argmax));
    let diff = 0;
    nodeLogits.forEach((y, i) => y.forEach((v, j) => { diff = Math.max(diff, Math.abs(v - demo.logits[i]![j]!)); }));
    expect(diff).toBeLessThan(1e-5);

    // Accuracy against the labels: the float model's (ONNX Runtime's outputs in the corpus).
    const ref = readDataDir(join(CORPUS, MODEL, 'eval'))[0]!.outputs[0]!;
    const classes = ref.shape[1]!;
    const floatCorrect = data.labels.filter((l, i) => argmax((ref.data as Float32Array).subarray(i * classes, (i + 1) * classes)) === l).length;
    const correct = demo.predictions.filter((p, i) => p === data.labels[i]).length;
    expect(demo.accuracy).toBeCloseTo(correct / data.count, 10);
    expect(Math.abs(correct - floatCorrect)).toBeLessThanOrEqual(1);
    expect(demo.accuracy).toBeGreaterThan(0.9);
    expect(await page.locator('#grid figure').count()).toBe(data.count);
    expect(await page.textContent('#summary')).toContain(`${correct} / ${data.count}`);
    expect(problems).toEqual([]);
    await page.close();
  });
});
