// Number formatting shared by the tiles, charts and table. Every function takes null/undefined
// to mean "no data yet" and shows a dash.

export const DASH = "–";

export function duration(s) {
  if (s == null || !isFinite(s)) return DASH;
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${sig3(s * 1e3)} ms`;
  if (s < 60) return `${sig3(s)} s`;
  const m = Math.floor(s / 60);
  return `${m}m ${String(Math.round(s - 60 * m)).padStart(2, "0")}s`;
}

export function ms(v) {
  return v == null ? DASH : duration(v / 1e3);
}

export function rate(x) {
  if (x == null || !isFinite(x)) return DASH;
  if (x >= 1e6) return `${sig3(x / 1e6)}M`;
  if (x >= 1e3) return `${sig3(x / 1e3)}k`;
  return sig3(x);
}

export function int(n) {
  return n == null ? DASH : Math.round(n).toLocaleString("en-US");
}

export function bytes(b) {
  if (b == null) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${sig3(b)} ${units[i]}`;
}

export function clock(t) {
  const d = new Date(t * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((v) => String(v).padStart(2, "0")).join(":");
}

export function sig3(x) {
  if (x === 0) return "0";
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return x.toFixed(digits);
}
