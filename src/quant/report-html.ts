/**
 * @fileoverview The layer report (report.ts) as one self-contained HTML page: the report JSON in a
 * `<script type="application/json">`, and a small inline script that draws at load time an SVG
 * bar plot of SQNR per layer (toggle: graph order / lowest first), one SVG histogram per
 * activation with its clip range, and summary tables. No network: a Content-Security-Policy
 * allows only the inline script and style. Model-provided strings reach the page only as
 * escaped text (server side) or through `textContent` / `setAttribute` (script side).
 * When drawn, `<body>` gets `data-rendered="true"` and `data-bars="<number of bars>"`.
 */
import type { LayerReport } from './report.js';

/** Text for HTML element content or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end its `<script>` element early (no `<`, `>`, `&`, U+2028, U+2029 left raw). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td.name { text-align: left; }
td.name { max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 4px; border-radius: 3px; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
figure { display: inline-block; margin: 8px 16px 8px 0; vertical-align: top; }
figcaption { font-size: 12px; max-width: 360px; overflow-wrap: anywhere; }
.hist-bin { fill: #4575b4; } .clip { stroke: #d73027; stroke-width: 1.5; stroke-dasharray: 4 2; }
button { font: inherit; margin: 4px 0; }
`;

/** The drawing script: plain browser JavaScript, run once at load. */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var R = JSON.parse(document.getElementById('report-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var BANDS = [[40, '#1a9850', '≥ 40 dB'], [30, '#91cf60', '30–40'], [20, '#fee08b', '20–30'], [10, '#fc8d59', '10–20'], [-Infinity, '#d73027', '< 10 dB']];

  function el(tag, attrs, text) {
    var e = tag.indexOf('svg:') === 0 ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function num(x, d) { return x === null || x === undefined ? '–' : Number(x).toPrecision(d || 4); }
  function db(e) { return e.exact ? '∞ (exact)' : e.sqnr === null ? 'n/a' : e.sqnr.toFixed(1) + ' dB'; }
  function colour(e) {
    if (e.exact) return BANDS[0][1];
    if (e.sqnr === null) return '#bbbbbb';
    for (var i = 0; i < BANDS.length; i++) if (e.sqnr >= BANDS[i][0]) return BANDS[i][1];
  }
  function table(parent, head, rows) {
    var t = el('table'), tr = el('tr');
    head.forEach(function (h) { tr.appendChild(el('th', {}, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (c, i) { row.appendChild(el('td', i === 0 ? { class: 'name', title: String(c) } : {}, String(c))); });
      t.appendChild(row);
    });
    parent.appendChild(t);
  }

  // (a) SQNR per layer
  var legend = document.getElementById('legend');
  BANDS.forEach(function (b) { legend.appendChild(el('span', { style: 'background:' + b[1] }, b[2])); });
  var finite = R.layers.map(function (l) { return l.error.sqnr; }).filter(function (s) { return s !== null; });
  var top = Math.max(10, Math.ceil(Math.max.apply(null, finite.concat([0])) / 10) * 10);
  var byLowest = false;
  function sqnrKey(l) { return l.error.exact ? Infinity : l.error.sqnr === null ? -Infinity : l.error.sqnr; }
  function drawBars() {
    var box = document.getElementById('bars');
    box.textContent = '';
    var layers = R.layers.slice();
    if (byLowest) layers.sort(function (a, b) { return sqnrKey(a) - sqnrKey(b); });
    var label = 320, plot = 480, rowH = 20, h = layers.length * rowH + 24;
    var svg = el('svg:svg', { width: label + plot + 110, height: h, role: 'img' });
    layers.forEach(function (l, i) {
      var y = i * rowH;
      var w = l.error.exact ? plot : l.error.sqnr === null ? 2 : Math.max(2, Math.min(plot, plot * l.error.sqnr / top));
      var name = l.name.length > 46 ? '…' + l.name.slice(-45) : l.name;
      svg.appendChild(el('svg:text', { x: label - 6, y: y + 14, 'text-anchor': 'end' }, name));
      var bar = el('svg:rect', { class: 'bar', x: label, y: y + 3, width: w, height: rowH - 6, fill: colour(l.error) });
      bar.appendChild(el('svg:title', {}, l.name + ' (' + l.op + '): ' + db(l.error) + ', cosine ' + num(l.error.cosine, 6)));
      svg.appendChild(bar);
      var before = R.baseline ? R.baseline.layers[l.name] : undefined;
      if (typeof before === 'number') {
        // the baseline recipe's SQNR for the same layer: a dark tick on the bar's row
        var bx = label + Math.max(2, Math.min(plot, plot * before / top));
        var tick = el('svg:rect', { class: 'baseline-tick', x: bx - 1, y: y + 1, width: 3, height: rowH - 2, fill: '#333' });
        tick.appendChild(el('svg:title', {}, l.name + ' under ' + R.baseline.recipe + ': ' + before.toFixed(1) + ' dB'));
        svg.appendChild(tick);
      }
      svg.appendChild(el('svg:text', { x: label + w + 6, y: y + 14 }, db(l.error) + (typeof before === 'number' ? ' (was ' + before.toFixed(1) + ')' : '')));
    });
    for (var t = 0; t <= top; t += 10) {
      var x = label + plot * t / top;
      svg.appendChild(el('svg:line', { x1: x, x2: x, y1: 0, y2: h - 20, stroke: '#eee' }));
      svg.appendChild(el('svg:text', { x: x, y: h - 6, 'text-anchor': 'middle' }, t + ''));
    }
    box.appendChild(svg);
    document.body.dataset.bars = String(layers.length);
  }
  var toggle = document.getElementById('order');
  toggle.addEventListener('click', function () {
    byLowest = !byLowest;
    toggle.textContent = byLowest ? 'Show in graph order' : 'Show lowest SQNR first';
    drawBars();
  });
  drawBars();

  // (b) activation histograms
  var hists = document.getElementById('hists');
  R.activations.forEach(function (a) {
    var fig = el('figure'), W = 360, H = 110, h = a.histogram;
    var svg = el('svg:svg', { width: W, height: H + 16, class: 'hist' });
    if (h) {
      var peak = Math.max.apply(null, h.counts), bw = W / h.counts.length;
      var xOf = function (v) { return (v - h.lo) / (h.hi - h.lo) * W; };
      h.counts.forEach(function (c, i) {
        if (c === 0) return;
        var bh = Math.max(1, H * Math.log1p(c) / Math.log1p(peak));
        var r = el('svg:rect', { class: 'hist-bin', x: i * bw, y: H - bh, width: Math.max(1, bw - 1), height: bh });
        r.appendChild(el('svg:title', {}, c + ' values in [' + num(h.lo + i * (h.hi - h.lo) / h.counts.length) + ', ' + num(h.lo + (i + 1) * (h.hi - h.lo) / h.counts.length) + ')'));
        svg.appendChild(r);
      });
      if (a.range) [a.range.min, a.range.max].forEach(function (v) {
        svg.appendChild(el('svg:line', { class: 'clip', x1: xOf(v), x2: xOf(v), y1: 0, y2: H }));
      });
      svg.appendChild(el('svg:text', { x: 0, y: H + 14 }, num(h.lo)));
      svg.appendChild(el('svg:text', { x: W, y: H + 14, 'text-anchor': 'end' }, num(h.hi)));
    }
    fig.appendChild(svg);
    var cap = a.name + ' — ' + a.mode + ' ' + a.scheme.format + ', ' + db(a.error) +
      (a.range ? ', clip [' + num(a.range.min) + ', ' + num(a.range.max) + '], ' + a.clipped + ' clipped' : ', range per run') +
      (a.error.sentinels ? ', ' + a.error.sentinels + ' sentinels left out' : '') +
      (h && (h.below || h.above) ? ', ' + (h.below + h.above) + ' outside the bins (in the edge bins)' : '');
    fig.appendChild(el('figcaption', {}, cap));
    hists.appendChild(fig);
  });

  // (c) tables
  var weightDb = function (l) { return l.weights.map(function (w) { return w.exact ? '∞' : num(w.sqnr, 3); }).join(', ') || '–'; };
  var baseDb = function (l) { var b = R.baseline && R.baseline.layers[l.name]; return typeof b === 'number' ? b.toFixed(1) + ' dB' : '–'; };
  table(document.getElementById('layer-table'), ['layer', 'op', 'SQNR'].concat(R.baseline ? ['SQNR under ' + R.baseline.recipe] : []).concat(['cosine', 'max |err|', 'weight SQNR (dB)']),
    R.layers.map(function (l) { return [l.name, l.op.replace(/^onnx\./, ''), db(l.error)].concat(R.baseline ? [baseDb(l)] : []).concat([num(l.error.cosine, 6), num(l.error.maxAbsError), weightDb(l)]); }));
  table(document.getElementById('activation-table'), ['activation', 'mode', 'scheme', 'scale', 'zero', 'clip range', 'SQNR', 'cosine', 'max |err|', 'sentinels', 'clipped'],
    R.activations.map(function (a) {
      var s = a.scheme;
      return [a.name, a.mode, s.format + ' ' + s.granularity + (s.symmetric ? ' sym' : ' asym'),
        a.scale ? (a.scale.length === 1 ? num(a.scale[0]) : a.scale.length + ' values') : '–',
        a.zero ? (a.zero.length === 1 ? a.zero[0] : a.zero.length + ' values') : '–',
        a.range ? '[' + num(a.range.min) + ', ' + num(a.range.max) + ']' : '–',
        db(a.error), num(a.error.cosine, 6), num(a.error.maxAbsError), a.error.sentinels, a.clipped];
    }));
  table(document.getElementById('output-table'), ['output', 'SQNR', 'cosine', 'max |err|', 'top-1 agreement'],
    R.outputs.map(function (o) { return [o.name, db(o.error), num(o.error.cosine, 6), num(o.error.maxAbsError), o.top1 === null ? '–' : (100 * o.top1).toFixed(2) + ' %']; }));
  var notes = document.getElementById('notes');
  R.notes.forEach(function (n) { notes.appendChild(el('li', {}, n)); });
  if (R.notes.length === 0) notes.appendChild(el('li', {}, 'none: every planned tensor was compared'));

  document.body.dataset.rendered = 'true';
})();
`;

/** The report as one self-contained HTML page (see the file overview). */
export function renderReportHtml(report: LayerReport): string {
  const title = `Quantization report: ${report.model} (${report.recipe})`;
  const worst = report.summary.worstLayer;
  const meta = [
    `${report.samples} samples in ${report.dataSets} data sets from ${report.dataDir}`,
    `${report.layers.length} layers, ${report.activations.length} activations`,
    worst ? `worst layer ${worst.name}: ${worst.sqnr.toFixed(1)} dB` : '',
    report.summary.top1 !== null ? `top-1 agreement ${(100 * report.summary.top1).toFixed(2)} %` : '',
  ].filter(Boolean).join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(meta)}</p>
<h2>SQNR per layer (quantized vs float output)</h2>
<p class="legend" id="legend"></p>
<button id="order" type="button">Show lowest SQNR first</button>
<div id="bars"></div>
<h2>Model outputs</h2>
<div id="output-table"></div>
<h2>Layers</h2>
<div id="layer-table"></div>
<h2>Activations</h2>
<div id="activation-table"></div>
<h2>Activation histograms (float values, log counts; dashed: clip range)</h2>
<div id="hists"></div>
<h2>Notes</h2>
<ul id="notes"></ul>
<script type="application/json" id="report-data">${scriptJson(report)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
