// Minimal page for the edge foundation: renders GET /v1/models and tries POST /v1/predict.
// The real app (client/ library + views) replaces it.
const out = document.getElementById('out');
const result = document.getElementById('result');
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

try {
  const res = await fetch('/v1/models');
  const m = await res.json();
  if (!res.ok) throw new Error(m.error?.message ?? res.statusText);
  const b = m.backbone;
  out.innerHTML = `
    <h2>Backbone</h2>
    <table><tbody>
      <tr><th>id</th><td><code>${esc(b.id)}@${esc(b.version)}</code></td></tr>
      <tr><th>input</th><td>${b.inputSize.join('×')} RGB, scaled to [0, 1], transparency on white</td></tr>
      <tr><th>embedding</th><td>${b.embedding.size} floats: ${b.embedding.parts.map((p) => `${esc(p.name)} (${p.size}, ${esc(p.pooling)})`).join(' + ')}</td></tr>
      <tr><th>files</th><td>${b.files.map((f) => `<a href="${esc(f.url)}">${esc(f.path.split('/').pop())}</a> ${kib(f.bytes)}`).join('<br>')}</td></tr>
    </tbody></table>
    <h2>Heads</h2>
    <table><thead><tr><th>id</th><th>classes</th><th>reads</th></tr></thead><tbody>
      ${m.heads.map((h) => `<tr><td><code>${esc(h.id)}</code></td><td>${h.classes.map(esc).join(', ')}</td><td>${h.input.parts.map(esc).join(', ')}</td></tr>`).join('')}
    </tbody></table>`;
} catch (err) {
  out.textContent = `Could not load the manifest: ${err.message}`;
}

document.getElementById('file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  result.textContent = 'Predicting at the edge…';
  try {
    const res = await fetch('/v1/predict', { method: 'POST', headers: { 'content-type': file.type }, body: file });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
    result.innerHTML = `<table><tbody>${body.predictions
      .map((p) => `<tr><th>${esc(p.label)}</th><td style="width:60%"><div class="bar" style="width:${(p.score * 100).toFixed(1)}%"></div></td><td>${(p.score * 100).toFixed(1)}%</td></tr>`)
      .join('')}</tbody></table>`;
  } catch (err) {
    result.textContent = `Prediction failed: ${err.message}`;
  }
});
