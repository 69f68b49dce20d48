// The dashboard page: loads the run from the JSON API, then follows it over Server-Sent Events.
// Raw figures are kept in data-* attributes next to their formatted text, so what the page
// shows can be checked against /api and /metrics.

import { lineChart, stackedBars } from "./charts.js";
import * as fmt from "./format.js";

const MAX_POINTS = 3600;       // the most series rows the page keeps (the server keeps as many)
const PAGE_ROWS = 25;          // batches per table page
const INITIAL_HISTORY_S = 900; // series loaded at first; "all" loads the rest

const state = {
  summary: null, series: null, batches: [], page: null, pageRows: null,
  window: 300, txStage: "executed", loadedSince: null, updates: 0,
};

const COLORS = {
  p50: "#22c55e", p90: "#f59e0b", p99: "#dc2626",
  received: "#6366f1", executed: "#0ea5e9", proven: "#a855f7", l1_verified: "#16a34a",
};
const STAGE_COLORS = {
  executed: "#0ea5e9", proof_queued: "#94a3b8", proof_started: "#f59e0b", proof_done: "#6366f1",
  l1_submitted: "#14b8a6", l1_verified: "#16a34a",
};
const STAGE_NAMES = {
  executed: "execute", proof_queued: "batching", proof_started: "queue wait", proof_done: "proving",
  l1_submitted: "L1 submit", l1_verified: "L1 inclusion",
};
// The waterfall splits proving into its phases; the names match the table's columns.
const SEGMENTS = [
  ["executed", "execute", "#0ea5e9"], ["proof_queued", "batching", "#94a3b8"], ["proof_started", "queue wait", "#f59e0b"],
  ["witness", "witness", "#8b5cf6"], ["ntt", "NTT", "#6366f1"], ["msm", "MSM", "#ec4899"],
  ["quotient", "quotient", "#f97316"], ["openings", "openings", "#06b6d4"], ["other", "other proving", "#a3a3a3"],
  ["l1_submitted", "L1 submit", "#14b8a6"], ["l1_verified", "L1 inclusion", "#16a34a"],
];
const PHASES = ["witness", "ntt", "msm", "quotient", "openings", "other"];

// ------------------------------------------------------------------------------ data

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function lowerBound(arr, v) {
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] < v) lo = mid + 1; else hi = mid; }
  return lo;
}

// Applies f to every array leaf of two objects of the same shape.
function mapLeaves(a, b, f) {
  const out = {};
  for (const k of Object.keys(b)) {
    if (Array.isArray(b[k])) out[k] = f(a[k] || [], b[k]);
    else if (b[k] && typeof b[k] === "object") out[k] = mapLeaves(a[k] || {}, b[k], f);
    else out[k] = b[k];
  }
  return out;
}

// New rows replace the page's rows from their first time on (open buckets change until closed).
function mergeSeries(old, inc) {
  if (!old || !old.t.length) return inc;
  if (!inc.t.length) return { ...old, closed_until: inc.closed_until, late_events: inc.late_events };
  const cut = lowerBound(old.t, inc.t[0]);
  const keep = Math.max(0, cut + inc.t.length - MAX_POINTS);
  return mapLeaves(old, inc, (a, b) => a.slice(keep, cut).concat(b));
}

function sliceSeries(s, from) {
  const i = lowerBound(s.t, from);
  return mapLeaves(s, s, (a) => a.slice(i));
}

// ------------------------------------------------------------------------------ rendering

function num(key, value, text) {
  return `<span data-key="${key}" data-value="${value == null ? "" : value}">${text}</span>`;
}

function tile(key, label, value, text, detail = "", bad = false) {
  return `<div class="tile${bad ? " bad" : ""}" data-key="${key}" data-value="${value == null ? "" : value}">
    <div class="label">${label}</div><div class="value">${text}</div><div class="detail">${detail}</div></div>`;
}

function renderTiles(s) {
  const tx = s.transactions, c = s.counters, g = s.gauges, st = s.batch_stages;
  const lat = (stage, label) => tile(`transactions.${stage}.p99`, `${label} p99`, tx[stage].p99, fmt.duration(tx[stage].p99),
    `p50 ${num(`transactions.${stage}.p50`, tx[stage].p50, fmt.duration(tx[stage].p50))} · ${num(`transactions.${stage}.count`, tx[stage].count, fmt.int(tx[stage].count))} tx`);
  const html = [
    tile("transactions.received.rate_10s", "Submitted", tx.received.rate_10s, `${fmt.rate(tx.received.rate_10s)} <small>tx/s</small>`,
      `${num("counters.transactions_received", c.transactions_received, fmt.int(c.transactions_received))} received · ${num("counters.transactions_rejected", c.transactions_rejected, fmt.int(c.transactions_rejected))} rejected`),
    lat("executed", "Soft finality"),
    lat("proven", "Proven"),
    lat("l1_verified", "L1 verified"),
    tile("batch_stages.proof_done.p99", "Proof time p99", st.proof_done.p99, fmt.duration(st.proof_done.p99),
      `p50 ${num("batch_stages.proof_done.p50", st.proof_done.p50, fmt.duration(st.proof_done.p50))} · ${num("batch_stages.proof_done.count", st.proof_done.count, fmt.int(st.proof_done.count))} proofs`),
    tile("counters.batches_verified", "Batches verified", c.batches_verified, fmt.int(c.batches_verified),
      `${num("counters.batches_proven", c.batches_proven, fmt.int(c.batches_proven))} proven`),
    tile("gauges.verified_height", "Verified height", g.verified_height, fmt.int(g.verified_height),
      `proven ${num("gauges.proven_height", g.proven_height, fmt.int(g.proven_height))} · executed ${num("gauges.executed_height", g.executed_height, fmt.int(g.executed_height))}`),
    tile("gauges.queue_depth", "Proof queue", g.queue_depth, fmt.int(g.queue_depth),
      `${num("gauges.pending_txs", g.pending_txs, fmt.int(g.pending_txs))} pending tx`),
    tile("counters.retries", "Retries", c.retries, fmt.int(c.retries),
      `${num("counters.failures", c.failures, fmt.int(c.failures))} failed attempts · ${num("counters.workers_replaced", c.workers_replaced, fmt.int(c.workers_replaced))} workers replaced`,
      c.failures > 0 || c.retries > 0 || c.workers_replaced > 0),
    tile("gas.mean", "L1 gas / batch", s.gas.mean, fmt.int(s.gas.mean),
      `${num("gas.count", s.gas.count, fmt.int(s.gas.count))} verified · max ${fmt.int(s.gas.max)}`),
  ];
  document.getElementById("tiles").innerHTML = html.join("");
}

function renderHeader(s) {
  document.body.dataset.events = String(s.events);
  document.getElementById("source").textContent = s.live ? "live node" : `saved run ${s.source}`;
  const span = document.getElementById("span");
  span.textContent = s.t_first == null ? "no events yet"
    : `${fmt.clock(s.t_first)} – ${fmt.clock(s.t_last)} (${fmt.duration(s.t_last - s.t_first)}) · ${fmt.int(s.events)} events`;
}

function chartWindow() {
  const s = state.series;
  const bucket = s.bucket_s || 1;
  const tEnd = s.t.length ? s.t[s.t.length - 1] + bucket : Date.now() / 1000;
  // The window is at most state.window seconds, and never reaches back before the run began.
  const first = s.t.length ? s.t[0] : tEnd - 60;
  const tStart = state.window > 0 ? Math.max(tEnd - state.window, Math.min(first, tEnd - 10)) : first;
  return { view: sliceSeries(s, tStart - bucket), tStart, tEnd, bucket };
}

function renderCharts() {
  if (!state.series) return;
  const { view, tStart, tEnd, bucket } = chartWindow();
  const base = { t: view.t, tMin: tStart, tMax: tEnd, bucket };
  const stage = state.txStage;
  const lat = view.tx_latency[stage];
  lineChart(document.getElementById("chart-latency"), {
    ...base, log: true, format: fmt.duration, empty: "no transactions at this stage yet",
    series: ["p50", "p90", "p99"].map((q) => ({ key: q, label: q, color: COLORS[q], values: lat[q] })),
  });
  document.getElementById("chart-latency").dataset.stage = stage;
  // The newest bucket is still filling; its rate would read as a drop, so it is left out.
  const partial = view.t.length && state.summary.t_last < view.t[view.t.length - 1] + bucket - 1e-6;
  const complete = (values) => (partial ? values.slice(0, -1).concat([null]) : values);
  lineChart(document.getElementById("chart-throughput"), {
    ...base, format: fmt.rate,
    series: [["received", "submitted"], ["executed", "soft final"], ["proven", "proven"], ["l1_verified", "verified"]]
      .map(([k, label]) => ({ key: k, label, color: COLORS[k], values: complete(view.tx_rate[k]), reduce: "mean" })),
  });
  lineChart(document.getElementById("chart-stages"), {
    ...base, log: true, format: fmt.duration, empty: "no batches yet",
    series: Object.keys(STAGE_NAMES).map((k) => ({ key: k, label: STAGE_NAMES[k], color: STAGE_COLORS[k], values: view.batch_latency[k].p99 })),
  });
  lineChart(document.getElementById("chart-queue"), {
    ...base, format: fmt.rate,
    series: [
      { key: "queue_depth", label: "proof queue", color: "#f59e0b", values: view.gauges.queue_depth },
      { key: "pending_txs", label: "pending tx ÷ 1000", color: "#6366f1", dash: "4 3",
        values: view.gauges.pending_txs.map((v) => (v == null ? null : v / 1000)) },
    ],
  });
}

function batchSegments(b) {
  const seg = [];
  for (const key of Object.keys(STAGE_NAMES)) {
    const v = b.stage_s[key];
    if (key === "proof_done") {
      if (v == null) continue;
      // Phases are timed inside the worker; scaled to fit if they add up to more than the stage.
      const ph = b.phases_ms ? PHASES.map((p) => [p, (b.phases_ms[p] || 0) / 1e3]) : [];
      const sum = ph.reduce((a, [, x]) => a + x, 0);
      const scale = sum > v ? v / sum : 1;
      // The "other" phase and any proving time the phases do not cover share one segment.
      for (const [p, x] of ph) if (p !== "other") seg.push({ key: p, value: x * scale });
      const covered = ph.filter(([p]) => p !== "other").reduce((a, [, x]) => a + x * scale, 0);
      seg.push({ key: "other", value: Math.max(0, v - covered) });
      continue;
    }
    if (v != null) seg.push({ key, value: v });
  }
  return seg;
}

function renderWaterfall(batches) {
  const rows = batches.filter((b) => Object.keys(b.stage_s).length).slice(0, 20)
    .map((b) => ({ key: String(b.batch), label: `#${b.batch}`, segments: batchSegments(b) }));
  const colors = Object.fromEntries(SEGMENTS.map(([k, , c]) => [k, c]));
  const names = Object.fromEntries(SEGMENTS.map(([k, n]) => [k, n]));
  stackedBars(document.getElementById("chart-waterfall"), { rows, colors, names, format: fmt.duration, empty: "no batches yet" });
  document.getElementById("waterfall-legend").innerHTML =
    SEGMENTS.map(([, n, c]) => `<span><i style="background:${c}"></i>${n}</span>`).join("");
}

function renderWorkers(s) {
  const ws = s.workers;
  document.getElementById("workers-note").textContent = ws.length
    ? `${ws.filter((w) => w.state === "busy").length} busy · ${ws.filter((w) => w.state === "idle").length} idle · ${ws.filter((w) => w.state === "dead").length} dead`
    : "";
  document.getElementById("workers").innerHTML = ws.length ? ws.map((w) => `
    <div class="worker" data-worker="${esc(w.worker)}" data-state="${w.state}" data-batch="${w.batch ?? ""}">
      <div><span class="name">${esc(w.worker)}</span> <span class="pill ${w.state}">${w.state}</span></div>
      <div class="what">${w.state === "busy" && w.batch != null ? `proving batch <b>#${w.batch}</b>` : w.state === "dead" ? "gone" : "waiting for a job"}</div>
      <div class="bar"><span style="width:${Math.round((w.utilization || 0) * 100)}%"></span></div>
      <div class="meta"><span title="${esc(w.node)}">${esc(w.node)}${w.device ? " · " + esc(w.device) : ""}</span>
        <span>${num(`workers.${esc(w.worker)}.busy_s`, w.busy_s, fmt.duration(w.busy_s))} busy (${w.utilization == null ? "–" : Math.round(w.utilization * 100) + "%"})</span></div>
      ${w.gpu_memory_bytes != null ? `<div class="meta"><span>GPU memory</span><span>${fmt.bytes(w.gpu_memory_bytes)}</span></div>` : ""}
    </div>`).join("") : `<div class="muted">no prover workers reported yet</div>`;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function cell(col, value, text, cls = "num") {
  return `<td class="${cls}" data-col="${col}" data-value="${value == null ? "" : value}">${text}</td>`;
}

function phaseBar(b) {
  if (!b.phases_ms) return "";
  const total = PHASES.reduce((a, p) => a + (b.phases_ms[p] || 0), 0) || 1;
  const colors = Object.fromEntries(SEGMENTS.map(([k, , c]) => [k, c]));
  return `<div class="phasebar">${PHASES.map((p) => `<span title="${p} ${fmt.ms(b.phases_ms[p])}" style="width:${(100 * (b.phases_ms[p] || 0)) / total}%;background:${colors[p]}"></span>`).join("")}</div>`;
}

function renderTable(rows, meta) {
  const body = document.querySelector("#batches tbody");
  body.innerHTML = rows.map((b) => {
    const times = Object.values(b.times);
    const latency = times.length > 1 ? Math.max(...times) - Math.min(...times) : null;
    const ph = b.phases_ms || {};
    return `<tr data-batch="${b.batch}" class="${b.status}">
      ${cell("batch", b.batch, `#${b.batch}`, "")}
      <td data-col="status" data-value="${b.status}"><span class="pill ${b.status}">${b.status}</span>${b.error ? ` <span class="muted" title="${esc(b.error)}">⚠</span>` : ""}</td>
      ${cell("transfers", b.transfers, fmt.int(b.transfers))}
      ${cell("worker", b.worker, b.worker ? esc(b.worker) : fmt.DASH, "")}
      ${cell("attempt", b.attempt, b.attempt ?? fmt.DASH)}
      ${cell("latency", latency, fmt.duration(latency))}
      ${cell("proof", b.stage_s.proof_done, fmt.duration(b.stage_s.proof_done))}
      <td class="phases">${phaseBar(b)}</td>
      ${PHASES.filter((p) => p !== "other").map((p) => cell(p, ph[p], fmt.ms(ph[p]))).join("")}
      ${cell("gas", b.gas, fmt.int(b.gas))}
    </tr>`;
  }).join("");
  const note = document.getElementById("page-note");
  note.textContent = rows.length
    ? `#${rows[0].batch} – #${rows[rows.length - 1].batch} · ${fmt.int(meta.stored)} kept (of at most ${fmt.int(meta.capacity)})`
    : "no batches yet";
  document.getElementById("newest").disabled = state.page == null;
  document.getElementById("older").disabled = !rows.length || rows[rows.length - 1].batch <= (meta.oldest ?? 0);
}

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const s = state.summary;
    if (!s) return;
    renderHeader(s);
    renderTiles(s);
    renderCharts();
    renderWorkers(s);
    const rows = state.page == null ? state.batches : state.pageRows;
    renderTable(rows, { stored: s.history.batches, capacity: s.history.capacity, oldest: s.history.oldest });
    renderWaterfall(rows);
    document.body.dataset.updates = String(++state.updates);
  });
}

// ------------------------------------------------------------------------------ wiring

function apply(update) {
  if (update.summary) state.summary = update.summary;
  if (update.series) state.series = mergeSeries(state.series, update.series);
  if (update.batches) state.batches = update.batches;
  render();
}

function setStatus(status, label) {
  document.body.dataset.status = status;
  document.querySelector("#status b").textContent = label || status;
}

function connect(since) {
  const q = since == null ? "" : `since=${since}&`;
  const es = new EventSource(`/api/stream?${q}limit=${PAGE_ROWS}`);
  es.addEventListener("update", (e) => { setStatus("live"); apply(JSON.parse(e.data)); });
  es.onopen = () => setStatus("live");
  es.onerror = () => setStatus("offline", "reconnecting");
}

async function loadHistory(seconds) {
  const s = state.summary;
  const since = seconds > 0 && s.t_last != null ? s.t_last - seconds : null;
  if (state.loadedSince != null && (since == null ? state.loadedSince === -Infinity : since >= state.loadedSince)) return;
  const fresh = await getJSON(`/api/series${since == null ? "" : `?since=${since}`}`);
  // Rows that arrived over the live channel meanwhile may be newer than the fetch; keep them.
  let merged = fresh;
  if (state.series && state.series.t.length) {
    const last = fresh.t.length ? fresh.t[fresh.t.length - 1] : -Infinity;
    const tail = sliceSeries(state.series, last + 1e-9);
    if (tail.t.length) merged = mergeSeries(fresh, tail);
  }
  state.series = merged;
  state.loadedSince = since == null ? -Infinity : since;
}

async function showPage(before) {
  state.page = before;
  if (before == null) { state.pageRows = null; render(); return; }
  const r = await getJSON(`/api/batches?limit=${PAGE_ROWS}&before=${before}`);
  state.pageRows = r.batches;
  render();
}

function wire() {
  document.querySelectorAll("#window button").forEach((b) => b.addEventListener("click", async () => {
    document.querySelectorAll("#window button").forEach((x) => x.classList.toggle("on", x === b));
    state.window = Number(b.dataset.window);
    if (state.window === 0 || state.window > INITIAL_HISTORY_S) await loadHistory(state.window);
    render();
  }));
  document.querySelectorAll("#tx-stage button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("#tx-stage button").forEach((x) => x.classList.toggle("on", x === b));
    state.txStage = b.dataset.stage;
    render();
  }));
  document.getElementById("older").addEventListener("click", () => {
    const rows = state.page == null ? state.batches : state.pageRows;
    if (rows.length) showPage(rows[rows.length - 1].batch);
  });
  document.getElementById("newest").addEventListener("click", () => showPage(null));
  window.addEventListener("resize", render);
}

async function main() {
  wire();
  try {
    state.summary = await getJSON("/api/summary");
    const s = state.summary;
    if (!s.live) {
      // A saved run: show all of it.
      state.window = 0;
      document.querySelectorAll("#window button").forEach((x) => x.classList.toggle("on", x.dataset.window === "0"));
      setStatus("saved", "saved run");
    }
    await loadHistory(s.live ? INITIAL_HISTORY_S : 0);
    state.batches = (await getJSON(`/api/batches?limit=${PAGE_ROWS}`)).batches;
    if (s.live) connect(state.series.closed_until);
    render();
  } catch (err) {
    setStatus("offline", `error: ${err.message}`);
  }
}

main();
