// The explorer page's one controller (sweep/explore/page.py passes it its models as
// args). Bokeh calls it when the document is ready, when a selector changes, when a
// heatmap cell is tapped and when a button is clicked; `cb_obj` says which.
//
// The state (metric, the value of every axis not plotted, the clicked cell, the
// pinned cells) lives in the widgets and in window.__sweepExplore, and is mirrored
// in the URL hash: #metric=final_loss&beta2=0.999&cell=1234&pins=5,77
const G = window.__sweepExplore ??
  (window.__sweepExplore = {spec: JSON.parse(spec), cell: -1, pins: [], busy: false});
const S = G.spec;
const M = cb_obj.origin?.name ?? cb_obj.name ?? "";  // the model that fired, if any

const PIN_MAX = S.pin_colors.length;
const plotted = (d) => d === S.x || d === S.y;
const others = S.dims.filter((d) => !plotted(d));

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e5) return String(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  return v.toExponential(2).replace(/e\+?(-?)0*(\d)/, "e$1$2");
}

function axisIndex() {  // the index of every axis not plotted, from its selector
  const idx = {};
  for (const d of others) idx[d] = parseInt(selects.find((s) => s.name === "axis:" + d).value);
  return idx;
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
      const c = flat(o, idx), kind = category(c, m);
      color[k] = kind === "diverged" ? S.diverged_color
        : kind ? S.not_reached_color : colour(cells.data[m][c], m);
      text[k] = valueText(c, m);
    }
    src.data = {...src.data, color, text};
    // The clicked and pinned cells, outlined where this map shows them.
    const box = {left: [], right: [], bottom: [], top: [], color: [], width: []};
    for (const [c, col] of slots()) {
      const [oc, ic] = unflat(c);
      if (oc !== o || others.some((d) => ic[d] !== idx[d])) continue;
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
      if (pathRow(flat(o, idx)) >= 0) { dot.x.push(src.data.cx[k]); dot.y.push(src.data.cy[k]); }
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

function renderCell() {
  const K = S.path_steps.length;
  const lines = {xs: [], ys: [], color: [], width: [], label: []};
  const losses = {xs: [], ys: [], color: [], width: [], label: []};
  const ends = {x: [], y: [], color: [], marker: []};
  let missing = [];
  for (const [c, col, label] of slots()) {
    const r = pathRow(c);
    if (r < 0) { missing.push(label); continue; }
    const xs = row(paths.data.x, r, K), ys = row(paths.data.y, r, K);
    const ls = row(paths.data.loss, r, K);
    const w = col === S.cell_color ? 3 : 2;
    lines.xs.push(xs); lines.ys.push(ys); lines.color.push(col); lines.width.push(w);
    lines.label.push(cellText(c));
    losses.xs.push(S.path_steps); losses.ys.push(ls); losses.color.push(col);
    losses.width.push(w); losses.label.push(cellText(c));
    let last = -1;
    for (let k = 0; k < K; k++) if (Number.isFinite(xs[k]) && Number.isFinite(ys[k])) last = k;
    if (last >= 0) {
      ends.x.push(xs[0], xs[last]); ends.y.push(ys[0], ys[last]);
      ends.color.push("black", col);
      ends.marker.push("circle", cells.data.diverged[c] ? "x" : "circle");
    }
  }
  path_lines.data = lines;
  loss_lines.data = losses;
  fitLoss(losses.ys);
  path_ends.data = ends;
  trajectory_plot.title.text = G.cell < 0 ? "Click a heatmap cell to see its path"
    : missing.length ? `No path stored for: ${missing.join(", ")}` +
      (S.path_source ? " (dots mark the squares that have one)" : "")
    : S.trajectory_title;
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
    info.text = "<p class='sweep-hint'>Click a cell of a heatmap: its path, loss curve, " +
      "hyperparameters and metrics appear here. Pin up to four cells to compare them.</p>";
    return;
  }
  const swept = S.dims.filter((d) => S.sizes[d] > 1);
  let html = "<table class='sweep-cells'><tr><th></th><th>optimizer</th>";
  for (const d of swept) html += `<th>${S.symbols[d]}</th>`;
  for (const m of S.metrics) html += `<th>${S.metric_short[m]}</th>`;
  html += "</tr>";
  for (const [c, col, label] of rows) {
    const [o, idx] = unflat(c);
    html += `<tr data-cell='${c}'><td><span class='sweep-swatch' style='background:${col}'></span>${label}</td>`;
    html += `<td>${S.optimizers[o]}</td>`;
    for (const d of swept) html += `<td>${S.labels[d][idx[d]]}</td>`;
    for (const m of S.metrics) html += `<td>${valueText(c, m, true)}</td>`;
    html += "</tr>";
  }
  html += "</table>";
  const fixed = S.dims.filter((d) => S.sizes[d] === 1);
  if (fixed.length)
    html += "<p class='sweep-hint'>Fixed: " + fixed.map((d) => `${S.symbols[d]} = ${S.labels[d][0]}`).join(", ") + "</p>";
  info.text = html;
}

function writeHash() {
  const parts = [`metric=${metric()}`];
  const idx = axisIndex();
  for (const d of others) parts.push(`${d}=${encodeURIComponent(S.labels[d][idx[d]])}`);
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
      const i = S.labels[d].indexOf(pairs.get(d));
      if (i >= 0) selects.find((s) => s.name === "axis:" + d).value = String(i);
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
    renderAll();
    writeHash();
    if (!G.listening) {
      G.listening = true;
      window.addEventListener("hashchange", () => { readHash(); renderAll(); });
    }
  }
}
