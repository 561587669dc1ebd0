/** The HTML layer report renders in headless Chromium: one bar per layer, histograms per activation, escaped names, a non-blank page. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/load.js';
import { quantizeModel } from '../../src/quant/apply.js';
import { loadRecipe } from '../../src/quant/recipe.js';
import { type LayerReport, layerReport } from '../../src/quant/report.js';
import { renderReportHtml } from '../../src/quant/report-html.js';
import { findChromium, missingChromiumMessage } from '../helpers/browser.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn(missingChromiumMessage('tests/e2e/report-browser.test.ts'));

/**
 * Fraction of non-white pixels of a PNG, decoded by the browser itself (no PNG library here).
 * Page code is a string: the project's TypeScript has no DOM types.
 */
const INK_FRACTION = `async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  let ink = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) ink++;
  return ink / (d.length / 4);
}`;

async function inkFraction(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return (await page.evaluate(`(${INK_FRACTION})(${JSON.stringify(png.toString('base64'))})`)) as number;
  } finally {
    await page.close();
  }
}

describe.skipIf(!HAS_SHARED || !CHROMIUM)('HTML layer report in headless Chromium', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-report-html-'));
  let browser: Browser;
  let report: LayerReport;
  /** Errors the page reported (script exceptions, CSP violations, failed loads). */
  const problems: string[] = [];

  /** Write `r` as HTML, open it, and wait until its script has drawn. */
  async function open(r: LayerReport, file: string): Promise<Page> {
    const path = join(tmp, file);
    writeFileSync(path, renderReportHtml(r));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('requestfailed', (q) => problems.push(`request failed: ${q.url()}`));
    await page.goto(pathToFileURL(path).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    return page;
  }

  beforeAll(async () => {
    const dir = join(CORPUS, 'digits_mlp');
    const float = loadModel(join(dir, 'model.onnx'));
    const quant = loadModel(join(dir, 'model.onnx'));
    const result = quantizeModel(quant, loadRecipe('w8a8'), { calib: join(dir, 'calib') });
    report = layerReport(float, quant, result, join(dir, 'eval'));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('draws one labelled bar per layer, histogram bins for every activation, and the tables', async () => {
    const page = await open(report, 'digits_mlp.html');
    const bars = page.locator('rect.bar');
    expect(await bars.count()).toBe(report.layers.length);
    expect(await page.getAttribute('body', 'data-bars')).toBe(String(report.layers.length));
    for (let i = 0; i < report.layers.length; i++) expect((await bars.nth(i).boundingBox())!.width).toBeGreaterThan(0);
    const titles = await page.locator('rect.bar > title').allTextContents();
    expect(titles.map((t) => t.split(' (')[0])).toEqual(report.layers.map((l) => l.name));

    const figures = page.locator('#hists figure');
    expect(await figures.count()).toBe(report.activations.length);
    for (const [i, a] of report.activations.entries()) {
      const nonEmpty = a.histogram!.counts.filter((c) => c > 0).length;
      expect(nonEmpty).toBeGreaterThan(0);
      expect(await figures.nth(i).locator('rect.hist-bin').count()).toBe(nonEmpty);
      expect(await figures.nth(i).locator('line.clip').count()).toBe(2);
    }
    expect(await page.locator('#layer-table tr').count()).toBe(report.layers.length + 1);
    expect(await page.locator('#activation-table tr').count()).toBe(report.activations.length + 1);

    const ink = await inkFraction(browser, await page.screenshot());
    expect(ink).toBeGreaterThan(0.01);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the toggle puts the lowest SQNR first', async () => {
    const page = await open(report, 'digits_mlp-order.html');
    await page.click('#order');
    const titles = await page.locator('rect.bar > title').allTextContents();
    const lowestFirst = [...report.layers].sort((a, b) => a.error.sqnr! - b.error.sqnr!).map((l) => l.name);
    expect(titles.map((t) => t.split(' (')[0])).toEqual(lowestFirst);
    expect(await page.getAttribute('body', 'data-bars')).toBe(String(report.layers.length));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows hostile names as text and runs none of them', async () => {
    const hostile = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">"/';
    const r: LayerReport = structuredClone(report);
    r.model = `model${hostile}`;
    r.layers[0]!.name = `layer${hostile}`;
    r.activations[0]!.name = `act${hostile}`;
    r.notes = [`note${hostile}`];
    const page = await open(r, 'hostile.html');
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe(`Quantization report: model${hostile} (w8a8)`);
    expect(await page.locator('rect.bar > title').first().textContent()).toContain(`layer${hostile}`);
    expect(await page.locator('#hists figcaption').first().textContent()).toContain(`act${hostile}`);
    expect(await page.locator('#notes li').first().textContent()).toBe(`note${hostile}`);
    expect(problems).toEqual([]);
    await page.close();
  });
});
