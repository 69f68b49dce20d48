// Small SVG charts: a time-series line chart (linear or log scale, hover read-out) and a
// horizontal stacked-bar chart. They redraw from scratch on each update; the page hands them a
// window of at most a few thousand points and they thin it to the pixels they have.

const NS = "http://www.w3.org/2000/svg";
const MARGIN = { left: 58, right: 14, top: 26, bottom: 22 };
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, s, attrs = {}) {
  const t = el("text", { x, y, ...attrs }, parent);
  t.textContent = s;
  return t;
}

function size(svg, margin = MARGIN) {
  const r = svg.getBoundingClientRect();
  const w = Math.max(200, Math.round(r.width)), h = Math.max(120, Math.round(r.height));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  return { w, h, pw: w - margin.left - margin.right, ph: h - margin.top - margin.bottom };
}

// The legend, with each series' latest value, wrapped onto as many lines as it needs; returns its height.
function legend(svg, series, format, width) {
  let lx = MARGIN.left, ly = 14;
  for (const s of series) {
    const item = el("g", { class: "legend-item" }, svg);
    const last = lastValue(s.values);
    const label = text(item, 0, ly, `${s.label} ${last == null ? "–" : format(last)}`);
    const len = 24 + label.getComputedTextLength();
    if (lx > MARGIN.left && lx + len > width) { lx = MARGIN.left; ly += 16; label.setAttribute("y", ly); }
    label.setAttribute("x", lx + 14);
    el("rect", { x: lx, y: ly - 6, width: 10, height: 3, fill: s.color }, item);
    lx += len;
  }
  return ly + 12;
}

function clear(svg) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
}

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
  return null;
}

// Groups of consecutive points reduced to one (max keeps latency peaks visible, mean keeps rates honest).
function thin(t, series, maxPoints) {
  const n = t.length;
  if (n <= maxPoints) return { t, values: series.map((s) => s.values) };
  const g = Math.ceil(n / maxPoints);
  const tt = [];
  const vv = series.map(() => []);
  for (let i = 0; i < n; i += g) {
    tt.push(t[i]);
    series.forEach((s, k) => {
      let acc = null, cnt = 0;
      for (let j = i; j < Math.min(n, i + g); j++) {
        const v = s.values[j];
        if (v == null) continue;
        acc = acc == null ? v : s.reduce === "mean" ? acc + v : Math.max(acc, v);
        cnt++;
      }
      vv[k].push(acc == null ? null : s.reduce === "mean" ? acc / cnt : acc);
    });
  }
  return { t: tt, values: vv };
}

function niceLinearTicks(lo, hi, count = 4) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return { ticks, lo: Math.min(lo, ticks[0] ?? lo), hi: Math.max(hi, ticks[ticks.length - 1] ?? hi) };
}

function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  const ticks = [];
  for (let e = a; e <= b; e++) for (const m of mults) {
    const v = m * 10 ** e;
    if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
  }
  return ticks;
}

/**
 * Draws a time series into `svg`.
 * opts: t (bucket start times, seconds), tMin/tMax (the window), bucket (seconds),
 *       series [{key, label, color, values, reduce: "max"|"mean", dash}],
 *       log (log-scale y), format (value → string), empty (message when there is nothing to draw).
 */
export function lineChart(svg, opts) {
  clear(svg);
  const { series, format } = opts;
  const M = { ...MARGIN, top: legend(svg, series, format, svg.getBoundingClientRect().width - MARGIN.right) };
  const { w, h, pw, ph } = size(svg, M);
  const points = thin(opts.t, series, Math.max(20, Math.floor(pw / 2)));
  svg.dataset.points = String(opts.t.length);
  let lo = Infinity, hi = -Infinity;
  for (const vals of points.values) for (const v of vals) {
    if (v == null || (opts.log && v <= 0)) continue;
    lo = Math.min(lo, v); hi = Math.max(hi, v);
  }
  const tMin = opts.tMin, tMax = Math.max(opts.tMax, tMin + 1);
  const x = (t) => M.left + ((t - tMin) / (tMax - tMin)) * pw;
  const g = el("g", { class: "grid" }, svg);
  let y, ticks;
  if (!isFinite(lo)) {
    text(svg, M.left + pw / 2, M.top + ph / 2, opts.empty || "waiting for data", { class: "empty", "text-anchor": "middle" });
    lo = 0; hi = 1;
  }
  if (opts.log) {
    lo = Math.max(lo, 1e-6); hi = Math.max(hi, lo * 1.5);
    const l0 = Math.log10(lo) - 0.05, l1 = Math.log10(hi) + 0.05;
    y = (v) => M.top + ph - ((Math.log10(Math.max(v, 1e-9)) - l0) / (l1 - l0)) * ph;
    ticks = logTicks(10 ** l0, 10 ** l1);
    // Within less than a decade, evenly spaced values label the axis better than 1-2-5.
    if (ticks.length < 3) ticks = niceLinearTicks(10 ** l0, 10 ** l1, 3).ticks.filter((v) => v >= 10 ** l0 && v <= 10 ** l1);
  } else {
    const nice = niceLinearTicks(Math.min(0, lo), hi > 0 ? hi : 1);
    y = (v) => M.top + ph - ((v - nice.lo) / (nice.hi - nice.lo || 1)) * ph;
    ticks = nice.ticks;
  }
  for (const v of ticks) {
    const yy = y(v);
    el("line", { x1: M.left, x2: M.left + pw, y1: yy, y2: yy }, g);
    text(svg, M.left - 6, yy + 4, format(v), { "text-anchor": "end" });
  }
  const span = tMax - tMin;
  const step = TIME_STEPS.find((s) => (s / span) * pw >= 80) || TIME_STEPS[TIME_STEPS.length - 1];
  for (let t = Math.ceil(tMin / step) * step; t <= tMax; t += step) {
    el("line", { x1: x(t), x2: x(t), y1: M.top, y2: M.top + ph }, g);
    text(svg, x(t), h - 6, clockLabel(t), { "text-anchor": "middle" });
  }
  el("line", { class: "axis", x1: M.left, x2: M.left + pw, y1: M.top + ph, y2: M.top + ph }, svg);

  // Each point sits in the middle of its bucket; a missing value breaks the line.
  const half = (opts.bucket || 0) / 2;
  series.forEach((s, k) => {
    let d = "", pen = false, count = 0;
    points.values[k].forEach((v, i) => {
      if (v == null || (opts.log && v <= 0)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(points.t[i] + half).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true; count++;
    });
    const path = el("path", { class: "series", d: d || "M0,0", stroke: s.color }, svg);
    if (s.dash) path.setAttribute("stroke-dasharray", s.dash);
    path.dataset.series = s.key;
    path.dataset.count = String(s.values.filter((v) => v != null).length);
    const last = lastValue(s.values);
    path.dataset.last = last == null ? "" : String(last);
  });

  hover(svg, { M, x, y, pw, ph, points, series, format, half, tMin, tMax });
}

function clockLabel(t) {
  const d = new Date(t * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((v) => String(v).padStart(2, "0")).join(":");
}

function hover(svg, ctx) {
  const tip = document.getElementById("tooltip");
  const cursor = el("line", { class: "cursor", y1: ctx.M.top, y2: ctx.M.top + ctx.ph, visibility: "hidden" }, svg);
  const pad = el("rect", { x: ctx.M.left, y: ctx.M.top, width: ctx.pw, height: ctx.ph, fill: "transparent" }, svg);
  pad.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); tip.hidden = true; });
  pad.addEventListener("mousemove", (ev) => {
    const box = svg.getBoundingClientRect();
    const px = ((ev.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
    const t = ctx.tMin + ((px - ctx.M.left) / ctx.pw) * (ctx.tMax - ctx.tMin) - ctx.half;
    const ts = ctx.points.t;
    if (!ts.length) return;
    let i = 0;
    while (i + 1 < ts.length && Math.abs(ts[i + 1] - t) <= Math.abs(ts[i] - t)) i++;
    const cx = ctx.x(ts[i] + ctx.half);
    cursor.setAttribute("x1", cx); cursor.setAttribute("x2", cx); cursor.setAttribute("visibility", "visible");
    const rows = ctx.series.map((s, k) => `<div><i style="background:${s.color}"></i>${s.label}: ${ctx.format(ctx.points.values[k][i]) }</div>`);
    tip.innerHTML = `<b>${clockLabel(ts[i])}</b>${rows.join("")}`;
    tip.hidden = false;
    tip.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
    tip.style.top = `${ev.clientY + 14}px`;
  });
}

/**
 * Horizontal stacked bars, one row per item, sharing one linear x axis.
 * rows: [{label, key, segments: [{key, value}]}]; colors: key → color; names: key → label.
 */
export function stackedBars(svg, { rows, colors, names, format, empty }) {
  clear(svg);
  const { w, h, pw, ph } = size(svg);
  const left = 58;
  svg.dataset.rows = String(rows.length);
  if (!rows.length) {
    text(svg, left + pw / 2, h / 2, empty || "waiting for data", { class: "empty", "text-anchor": "middle" });
    return;
  }
  const totals = rows.map((r) => r.segments.reduce((a, s) => a + s.value, 0));
  const nice = niceLinearTicks(0, Math.max(...totals, 1e-3), 5);
  const x = (v) => left + (v / nice.hi) * (w - left - MARGIN.right);
  const top = 6, bottom = 22;
  const rowH = (h - top - bottom) / rows.length;
  const g = el("g", { class: "grid" }, svg);
  for (const v of nice.ticks) {
    el("line", { x1: x(v), x2: x(v), y1: top, y2: h - bottom }, g);
    text(svg, x(v), h - 6, format(v), { "text-anchor": "middle" });
  }
  const tip = document.getElementById("tooltip");
  rows.forEach((r, i) => {
    const yy = top + i * rowH;
    const row = el("g", { class: "bar-row" }, svg);
    row.dataset.key = r.key;
    row.dataset.total = String(totals[i]);
    text(row, left - 6, yy + rowH / 2 + 4, r.label, { "text-anchor": "end" });
    let acc = 0;
    for (const s of r.segments) {
      if (s.value <= 0) continue;
      el("rect", { x: x(acc), y: yy + rowH * 0.15, width: Math.max(0.5, x(acc + s.value) - x(acc)), height: rowH * 0.7, fill: colors[s.key] }, row);
      acc += s.value;
    }
    const hit = el("rect", { x: 0, y: yy, width: w, height: rowH, fill: "transparent" }, row);
    hit.addEventListener("mousemove", (ev) => {
      const parts = r.segments.filter((s) => s.value > 0)
        .map((s) => `<div><i style="background:${colors[s.key]}"></i>${names[s.key]}: ${format(s.value)}</div>`);
      tip.innerHTML = `<b>${r.label} · ${format(totals[i])}</b>${parts.join("")}`;
      tip.hidden = false;
      tip.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
      tip.style.top = `${ev.clientY + 14}px`;
    });
    hit.addEventListener("mouseleave", () => { tip.hidden = true; });
  });
}
