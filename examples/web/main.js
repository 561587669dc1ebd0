// The example page's script: load a Lutra artifact and an eval set, classify every sample, show
// the predictions and the accuracy, and publish them as `window.lutraDemo` (the e2e test reads it).
// Plain ES module, no build step. Query parameters: ?artifact=<dir URL>&data=<eval.json URL>.

const params = new URLSearchParams(location.search);
const artifactUrl = new URL(params.get('artifact') ?? 'artifact/', location.href);
const dataUrl = new URL(params.get('data') ?? 'eval.json', location.href);
const status = document.getElementById('status');

/** Index of the largest value: the predicted class. */
function argmax(xs) {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** A square single-channel sample as a grey image (darker = larger), when it is square. */
function drawSample(x) {
  const side = Math.round(Math.sqrt(x.length));
  if (side * side !== x.length) return null;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  for (let i = 0; i < x.length; i++) {
    const g = 255 - Math.round((255 * (x[i] - lo)) / (hi - lo || 1));
    img.data.set([g, g, g, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

async function main() {
  // The artifact's own typed loader (index.js) and runtime (runtime.js), served next to the page.
  const { load } = await import(new URL('index.js', artifactUrl).href);
  const model = await load(artifactUrl);
  const response = await fetch(dataUrl);
  if (!response.ok) throw new Error(`${dataUrl}: HTTP ${response.status}`);
  const data = await response.json();
  const per = data.shape.reduce((a, b) => a * b, 1);
  const inputs = Float32Array.from(data.inputs);
  const [inputName] = model.inputNames;
  const [outputName] = model.outputNames;
  status.textContent = `Classifying ${data.count} samples with '${model.manifest?.model ?? 'model'}'…`;

  const predictions = [];
  const logits = [];
  const t0 = performance.now();
  for (let i = 0; i < data.count; i++) {
    const out = await model.run({ [inputName]: inputs.subarray(i * per, (i + 1) * per) });
    const y = Array.from(out[outputName]);
    logits.push(y);
    predictions.push(argmax(y));
  }
  const msPerSample = (performance.now() - t0) / data.count;
  const correct = predictions.filter((p, i) => p === data.labels[i]).length;
  const accuracy = correct / data.count;

  const grid = document.getElementById('grid');
  const frag = document.createDocumentFragment();
  predictions.forEach((p, i) => {
    const fig = document.createElement('figure');
    if (p !== data.labels[i]) fig.className = 'wrong';
    const canvas = drawSample(inputs.subarray(i * per, (i + 1) * per));
    if (canvas) fig.append(canvas);
    const cap = document.createElement('figcaption');
    cap.textContent = p === data.labels[i] ? String(p) : `${p} / ${data.labels[i]}`;
    fig.append(cap);
    frag.append(fig);
  });
  grid.append(frag);
  status.textContent = `Done: ${data.count} samples, ${msPerSample.toFixed(3)} ms per sample (batch 1, one thread).`;
  document.getElementById('summary').textContent = `Accuracy ${(100 * accuracy).toFixed(2)} % (${correct} / ${data.count})`;
  window.lutraDemo = { predictions, logits, labels: data.labels, accuracy, msPerSample };
  document.body.dataset.state = 'done';
}

main().catch((e) => {
  status.textContent = `Error: ${e?.message ?? e}`;
  status.className = 'error';
  document.body.dataset.state = 'error';
  console.error(e);
});
