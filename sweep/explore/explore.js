// The explorer page's one controller (sweep/explore/page.py passes it its models as
// args). Bokeh calls it when the document is ready, when a selector changes, when a
// heatmap cell is tapped and when a button is clicked; `cb_obj` says which.
//
// The state (metric, the value of every axis not plotted, the clicked cell, the
// pinned cells) lives in the widgets and in window.__sweepExplore, and is mirrored
// in the URL hash: #metric=final_loss&beta2=0.999&cell=1234&pins=5,77
//
// A replicate axis (seed) has a summary among its selector's values (median, mean, best,
// worst): a square then shows that summary over the seeds, and the clicked and pinned
// cells stand for every seed of their configuration.
const G = window.__sweepExplore ??
  (window.__sweepExplore = {spec: JSON.parse(spec), cell: -1, pins: [], busy: false});
const S = G.spec;
const M = cb_obj.origin?.name ?? cb_obj.name ?? "";  // the model that fired, if any

const PIN_MAX = S.pin_colors.length;
const plotted = (d) => d === S.x || d === S.y;
const others = S.dims.filter((d) => !plotted(d));
const selectOf = (d) => selects.find((s) => s.name === "axis:" + d);

function summaryOf(d) {  // the summary the selector of d names, or null (one value)
  if (!S.replicates.includes(d)) return null;
  const v = selectOf(d).value;
  return S.summaries.includes(v) ? v : null;
}

function summarised() { return S.replicates.filter((d) => summaryOf(d)); }

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e5) return String(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  return v.toExponential(2).replace(/e\+?(-?)0*(\d)/, "e$1$2");
}

function axisIndex() {  // the index of every axis not plotted, from its selector (0: a summary)
  const idx = {};
  for (const d of others) idx[d] = summaryOf(d) ? 0 : parseInt(selectOf(d).value);
  return idx;
}

function expand(c) {  // c and its siblings along every summarised axis (every seed)
  let out = [c];
  for (const d of summarised()) {
    const next = [];
    for (const cell of out) {
      const [o, idx] = unflat(cell);
      for (let i = 0; i < S.sizes[d]; i++) next.push(flat(o, {...idx, [d]: i}));
    }
    out = next;
  }
  return out;
}

function flat(o, idx) {  // optimizer index + {dim: index} → the cell's flat index
  let c = o;
  for (const d of S.dims) c = c * S.sizes[d] + idx[d];
  return c;
}

function unflat(c) {  // → [optimizer index, {dim: index}]
  const idx = {};
  for (let k = S.dims.length - 1; k >= 0; k--) {
    const d = S.dims[k];
    idx[d] = c % S.sizes[d];
    c = Math.floor(c / S.sizes[d]);
  }
  return [c, idx];
}

function metric() { return metric_select.value; }

function colour(v, m) {
  const s = S.scales[m], p = S.palette, n = p.length;
  let t = s.log ? (Math.log10(v) - Math.log10(s.low)) / (Math.log10(s.high) - Math.log10(s.low))
                : (v - s.low) / (s.high - s.low);
  t = Math.min(1, Math.max(0, t));
  return p[Math.min(n - 1, Math.floor(t * n))];
}

function category(c, m) {  // "diverged", "not reached", "no value" or "" (a number)
  if (cells.data.diverged[c]) return "diverged";
  const v = cells.data[m][c];
  if (Number.isNaN(v)) return m === "steps_to_tol" ? "not reached" : "no value";
  return "";
}

function rank(c, m) {  // lower is better: diverged +inf, never reached just past the steps
  if (cells.data.diverged[c]) return Infinity;
  const v = cells.data[m][c];
  if (Number.isNaN(v)) return m === "steps_to_tol" ? S.censor_steps + 1 : NaN;
  return v;
}

function summary(cs, m, how) {  // [value or ±inf/NaN, kind] of the cells cs summarised
  const r = cs.map((c) => rank(c, m)).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!r.length) return [NaN, m === "steps_to_tol" ? "not reached" : "no value"];
  const censor = m === "steps_to_tol" ? S.censor_steps + 1 : null;
  const real = (v) => Number.isFinite(v) && v !== censor;
  let v;
  if (how === "best") v = r[0];
  else if (how === "worst") v = r[r.length - 1];
  else if (how === "mean") v = r.some((x) => !real(x)) ? r[r.length - 1]
    : r.reduce((a, b) => a + b, 0) / r.length;
  else {  // median: an even count averages two values only when both are numbers
    const lo = r[(r.length - 1) >> 1], hi = r[r.length >> 1];
    v = real(lo) && real(hi) ? (lo + hi) / 2 : hi;
  }
  if (v === Infinity) return [v, "diverged"];
  if (v === censor) return [v, "not reached"];
  return [v, ""];
}

function square(o, idx, m) {  // [value, kind, text] of a heatmap square
  const c = flat(o, idx), how = summarised().length ? summaryOf(summarised()[0]) : null;
  if (!how) {
    const kind = category(c, m);
    return [cells.data[m][c], kind, valueText(c, m)];
  }
  const cs = expand(c);
  const [v, kind] = summary(cs, m, how);
  const word = {median: "median", mean: "mean", best: "best", worst: "worst"}[how];
  const text = (kind === "not reached" ? "not reached" : kind || fmt(v)) +
    ` (${word} of ${cs.length} seeds)`;
  return [v, kind, text];
}

function valueText(c, m, short = false) {
  const k = category(c, m);
  if (k === "not reached")
    return short ? "not reached" : `did not reach tol in ${S.censor_steps.toLocaleString("en")} steps`;
  return k || fmt(cells.data[m][c]);
}

function slots() {  // the clicked cell, then the pins: [cell, colour, label]
  const out = [];
  if (G.cell >= 0) out.push([G.cell, S.cell_color, "clicked"]);
  G.pins.forEach((c, i) => out.push([c, S.pin_colors[i], `pin ${i + 1}`]));
  return out;
}

function renderHeatmaps() {
  const m = metric(), idx = axisIndex();
  S.optimizers.forEach((name, o) => {
    const src = heat[o], n = src.data.ix.length;
    const color = new Array(n), text = new Array(n);
    for (let k = 0; k < n; k++) {
      idx[S.x] = src.data.ix[k];
      idx[S.y] = src.data.iy[k];
      const [v, kind, t] = square(o, idx, m);
      color[k] = kind === "diverged" ? S.diverged_color
        : kind ? S.not_reached_color : colour(v, m);
      text[k] = t;
    }
    src.data = {...src.data, color, text};
    // The clicked and pinned cells, outlined where this map shows them.
    const box = {left: [], right: [], bottom: [], top: [], color: [], width: []};
    const free = others.filter((d) => !summaryOf(d));
    for (const [c, col] of slots()) {
      const [oc, ic] = unflat(c);
      if (oc !== o || free.some((d) => ic[d] !== idx[d])) continue;
      const k = ic[S.y] * S.sizes[S.x] + ic[S.x];
      for (const side of ["left", "right", "bottom", "top"]) box[side].push(src.data[side][k]);
      box.color.push(col);
      box.width.push(col === S.cell_color ? 3 : 2.5);
    }
    outline[o].data = box;
    // Dots on the squares that have a stored path, unless all or none of them have.
    const dot = {x: [], y: []};
    for (let k = 0; k < n; k++) {
      idx[S.x] = src.data.ix[k];
      idx[S.y] = src.data.iy[k];
      if (expand(flat(o, idx)).some((c) => pathRow(c) >= 0)) {
        dot.x.push(src.data.cx[k]); dot.y.push(src.data.cy[k]);
      }
    }
    if (dot.x.length === n) { dot.x = []; dot.y = []; }
    dots[o].data = dot;
  });
  bar.color_mapper = mappers[S.metrics.indexOf(m)];
  bar.title = S.metric_labels[m];
}

function renderSensitivity() {
  const s = S.sensitivity[metric()];
  const main = [], total = [];
  S.optimizers.forEach((name, o) => {
    for (let a = 0; a < s.axes.length; a++) { main.push(s.main[o][a]); total.push(s.total[o][a]); }
  });
  sensitivity.data = {...sensitivity.data, main, total};
  sensitivity_plot.title.text = s.title;
  sensitivity_note.text = "<p class='sweep-hint'>Main effect (dark): the share of the " +
    "variance the axis explains alone; total effect (light): its share with its interactions. " +
    (s.treatment ? `Response: ${s.treatment}.` : "") +
    (s.constant.some((x) => x) ? " An optimizer whose response is constant has no bars." : "") +
    "</p>";
}

function pathRow(c) {  // the row of c in the stored paths, or -1
  const a = path_cells.data.cell;
  let lo = 0, hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] === c) return mid;
    if (a[mid] < c) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

function row(a, r, K) {  // row r of a flat (rows × K) array, as a plain array
  const out = new Array(K);
  for (let k = 0; k < K; k++) out[k] = a[r * K + k];
  return out;
}

function cellText(c) {  // optimizer and every swept axis, e.g. "adam, α=0.001, β₁=0.9"
  const [o, idx] = unflat(c);
  const parts = [S.optimizers[o]];
  for (const d of S.dims) if (S.sizes[d] > 1) parts.push(`${S.symbols[d]}=${S.labels[d][idx[d]]}`);
  return parts.join(", ");
}

function medianCurve(curves) {  // step by step, the median of the curves' finite values
  const K = curves[0].length, out = new Array(K);
  for (let k = 0; k < K; k++) {
    const v = curves.map((c) => c[k]).filter(Number.isFinite).sort((a, b) => a - b);
    out[k] = v.length ? (v.length % 2 ? v[v.length >> 1]
      : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : NaN;
  }
  return out;
}

function renderCell() {
  const K = S.path_steps.length, model = S.kind === "model";
  const empty = () => ({xs: [], ys: [], color: [], width: [], label: [], alpha: []});
  const lines = {xs: [], ys: [], color: [], width: [], label: []};
  const losses = empty(), tests = empty(), errors = empty();
  const ends = {x: [], y: [], color: [], marker: []};
  const push = (target, ys, col, w, label, alpha) => {
    target.xs.push(S.path_steps); target.ys.push(ys); target.color.push(col);
    target.width.push(w); target.label.push(label); target.alpha.push(alpha);
  };
  let missing = [];
  for (const [c, col, label] of slots()) {
    const members = expand(c).filter((m) => pathRow(m) >= 0);
    if (!members.length) { missing.push(label); continue; }
    const many = members.length > 1;  // every seed thin, their median thick
    const w = col === S.cell_color ? 3 : 2;
    const curves = {loss: [], test_loss: [], test_error: []};
    for (const m of members) {
      const r = pathRow(m);
      curves.loss.push(row(paths.data.loss, r, K));
      for (const name of S.curves) curves[name].push(row(paths.data[name], r, K));
      if (model) continue;
      const xs = row(paths.data.x, r, K), ys = row(paths.data.y, r, K);
      lines.xs.push(xs); lines.ys.push(ys); lines.color.push(col);
      lines.width.push(many ? 1.2 : w); lines.label.push(cellText(m));
      let last = -1;
      for (let k = 0; k < K; k++) if (Number.isFinite(xs[k]) && Number.isFinite(ys[k])) last = k;
      if (last >= 0) {
        ends.x.push(xs[0], xs[last]); ends.y.push(ys[0], ys[last]);
        ends.color.push("black", col);
        ends.marker.push("circle", cells.data.diverged[m] ? "x" : "circle");
      }
    }
    const targets = [["loss", losses], ["test_loss", tests], ["test_error", errors]];
    for (const [name, target] of targets) {
      const group = curves[name];
      if (!group.length) continue;
      group.forEach((ys, i) => push(target, ys, col, many ? 1 : w, cellText(members[i]),
                                    many ? 0.35 : 1));
      if (many) push(target, medianCurve(group), col, w, cellText(c) + " (median)", 1);
    }
  }
  path_lines.data = lines;
  loss_lines.data = losses;
  fitLoss(losses.ys.concat(tests.ys));
  path_ends.data = ends;
  if (model) {
    if (test_loss_lines) test_loss_lines.data = tests;
    if (error_lines) error_lines.data = errors;
    loss_plot.title.text = G.cell < 0 ? "Click a heatmap cell to see its training curves"
      : missing.length ? `No curves stored for: ${missing.join(", ")}` +
        (S.path_source ? " (dots mark the squares that have them)"
                       : " (run the sweep with record_every > 0 to record them)")
      : "Training (solid) and test (dashed) loss" +
        (summarised().length ? ": seeds thin, median thick" : "");
  } else {
    trajectory_plot.title.text = G.cell < 0 ? "Click a heatmap cell to see its path"
      : missing.length ? `No path stored for: ${missing.join(", ")}` +
        (S.path_source ? " (dots mark the squares that have one)" : "")
      : S.trajectory_title;
  }
  renderInfo();
  pin_button.disabled = G.cell < 0 || G.pins.includes(G.cell);
  pin_button.label = G.pins.length >= PIN_MAX ? `Pin (replaces pin 1)` : `Pin this cell (${G.pins.length}/${PIN_MAX})`;
  clear_button.disabled = G.pins.length === 0;
}

function fitLoss(curves) {  // the loss plot's y range: the curves shown, with a margin
  let low = Infinity, high = -Infinity;
  for (const ys of curves) for (const v of ys)
    if (Number.isFinite(v) && (!S.loss_log || v > 0)) { low = Math.min(low, v); high = Math.max(high, v); }
  if (!(low <= high)) return;
  let start, end;
  if (S.loss_log) {
    const pad = Math.max(0.05 * Math.log10(high / low), 0.1);
    start = low / 10 ** pad; end = high * 10 ** pad;
  } else {
    const pad = Math.max(0.05 * (high - low), 1e-12 * Math.max(1, Math.abs(high)));
    start = low - pad; end = high + pad;
  }
  const r = loss_plot.y_range;
  r.setv({start, end, reset_start: start, reset_end: end});
}

function renderInfo() {
  const rows = slots();
  if (!rows.length) {
    const what = S.kind === "model" ? "training and test curves" : "path, loss curve";
    info.text = `<p class='sweep-hint'>Click a cell of a heatmap: its ${what}, ` +
      "hyperparameters and metrics appear here. Pin up to four cells to compare them.</p>";
    return;
  }
  const swept = S.dims.filter((d) => S.sizes[d] > 1);
  const how = summarised().length ? summaryOf(summarised()[0]) : null;
  let html = "<table class='sweep-cells'><tr><th></th><th>optimizer</th>";
  for (const d of swept) html += `<th>${S.symbols[d]}</th>`;
  for (const m of S.metrics) html += `<th>${S.metric_short[m]}</th>`;
  html += "</tr>";
  for (const [c, col, label] of rows) {
    const members = expand(c);
    for (const cell of members) {
      const [o, idx] = unflat(cell);
      html += `<tr data-cell='${cell}'><td><span class='sweep-swatch' style='background:${col}'></span>${label}</td>`;
      html += `<td>${S.optimizers[o]}</td>`;
      for (const d of swept) html += `<td>${S.labels[d][idx[d]]}</td>`;
      for (const m of S.metrics) html += `<td>${valueText(cell, m, true)}</td>`;
      html += "</tr>";
    }
    if (members.length > 1) {  // the summary the map shows, under its seeds
      html += `<tr class='sweep-summary'><td></td><td colspan='${1 + swept.length}'>` +
        `<b>${how} of ${members.length} seeds</b></td>`;
      for (const m of S.metrics) {
        const [v, kind] = summary(members, m, how);
        html += `<td><b>${kind === "not reached" ? "not reached" : kind || fmt(v)}</b></td>`;
      }
      html += "</tr>";
    }
  }
  html += "</table>";
  const fixed = S.dims.filter((d) => S.sizes[d] === 1);
  if (fixed.length)
    html += "<p class='sweep-hint'>Fixed: " + fixed.map((d) => `${S.symbols[d]} = ${S.labels[d][0]}`).join(", ") + "</p>";
  info.text = html;
}

function fitHeatmaps() {  // the maps' size from the window's: the grid fills the width left
  const n = heat_figs.length, cols = Math.min(n, 3), rows = Math.ceil(n / cols);
  const room = Math.max(600, window.innerWidth - 210 - 130 - 60);
  const width = Math.round(Math.min(640, Math.max(240, room / cols)));
  const ny = S.sizes[S.y];
  // A strip (one value up the side) stays low; a map is a little wider than high, and the
  // rows of maps together take at most about two thirds of the window's height.
  const tall = Math.max(200, (window.innerHeight * 0.68 - 40) / rows);
  const height = Math.round(Math.max(150, Math.min(width * 0.8, 110 + 70 * ny, tall)));
  for (const f of heat_figs) { f.width = width; f.height = height; }
  colorbar_holder.height = Math.max(height, 180);
}
function writeHash() {
  const parts = [`metric=${metric()}`];
  const idx = axisIndex();
  for (const d of others)
    parts.push(`${d}=${encodeURIComponent(summaryOf(d) ?? S.labels[d][idx[d]])}`);
  if (G.cell >= 0) parts.push(`cell=${G.cell}`);
  if (G.pins.length) parts.push(`pins=${G.pins.join(",")}`);
  const hash = "#" + parts.join("&");
  if (window.location.hash !== hash) {
    try { history.replaceState(null, "", hash); } catch (e) { window.location.hash = hash; }
  }
}

function readHash() {  // set the widgets and the cells from the URL hash (bad parts ignored)
  const text = window.location.hash.replace(/^#/, "");
  if (!text) return;
  const pairs = new Map(text.split("&").map((p) => {
    const i = p.indexOf("=");
    return i < 0 ? [p, ""] : [p.slice(0, i), decodeURIComponent(p.slice(i + 1))];
  }));
  const valid = (c) => Number.isInteger(c) && c >= 0 && c < cells.data.diverged.length;
  G.busy = true;
  try {
    if (S.metrics.includes(pairs.get("metric"))) metric_select.value = pairs.get("metric");
    for (const d of others) {
      const v = pairs.get(d), i = S.labels[d].indexOf(v);
      if (S.replicates.includes(d) && S.summaries.includes(v)) selectOf(d).value = v;
      else if (i >= 0) selectOf(d).value = String(i);
    }
    const cell = parseInt(pairs.get("cell"));
    G.cell = valid(cell) ? cell : -1;
    G.pins = (pairs.get("pins") ?? "").split(",").map((p) => parseInt(p)).filter(valid)
      .slice(0, PIN_MAX);
  } finally {
    G.busy = false;
  }
}

function renderAll() {
  renderHeatmaps();
  renderSensitivity();
  renderCell();
}

if (!G.busy) {
  if (M === "metric" || M.startsWith("axis:")) {
    renderHeatmaps();
    if (M === "metric") renderSensitivity();
    if (S.replicates.includes(M.slice(5))) renderCell();  // a summary, or one seed: the cells' rows
    writeHash();
  } else if (M.startsWith("tap:")) {
    const k = cb_obj.indices[0];
    if (k !== undefined) {
      const o = parseInt(M.slice(4)), idx = axisIndex();
      idx[S.x] = heat[o].data.ix[k];
      idx[S.y] = heat[o].data.iy[k];
      G.cell = flat(o, idx);
      G.busy = true;
      cb_obj.indices = [];  // no selection styling: the outline marks the cell
      G.busy = false;
      renderHeatmaps();
      renderCell();
      writeHash();
    }
  } else if (M === "pin") {
    if (G.cell >= 0 && !G.pins.includes(G.cell)) {
      G.pins = [...G.pins, G.cell].slice(-PIN_MAX);
      renderHeatmaps();
      renderCell();
      writeHash();
    }
  } else if (M === "clear") {
    G.pins = [];
    renderHeatmaps();
    renderCell();
    writeHash();
  } else {  // the document is ready: the view the URL names, or the first one
    readHash();
    fitHeatmaps();
    renderAll();
    writeHash();
    if (!G.listening) {
      G.listening = true;
      window.addEventListener("hashchange", () => { readHash(); renderAll(); });
      let pending = null;
      window.addEventListener("resize", () => {
        clearTimeout(pending);
        pending = setTimeout(fitHeatmaps, 150);
      });
    }
  }
}
