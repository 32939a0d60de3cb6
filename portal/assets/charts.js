// Small inline SVG charts for the dashboards: bars for counts, lines for rates, latencies
// and MRR, stacked bars for MRR movements (gains above the axis, losses below). Each chart
// has a text summary for screen readers.

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 140;
const PAD = { left: 40, right: 8, top: 8, bottom: 20 };

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function frame(summary, max, unit) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary });
  const title = svg("title");
  title.textContent = summary;
  root.append(title);
  root.append(svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }));
  root.append(svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }));
  const label = svg("text", { x: 2, y: PAD.top + 8 });
  label.textContent = `${format(max)}${unit}`;
  root.append(label);
  const zero = svg("text", { x: 2, y: H - PAD.bottom });
  zero.textContent = `0${unit}`;
  root.append(zero);
  return root;
}

function format(n) {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n * 10) / 10);
}

const x = (i, n) => PAD.left + ((W - PAD.left - PAD.right) * (i + 0.5)) / Math.max(n, 1);
const y = (v, max) => H - PAD.bottom - ((H - PAD.top - PAD.bottom) * v) / (max || 1);

/** Bars of `values` (one per bucket). */
export function bars(values, summary, unit = "") {
  const max = Math.max(1, ...values);
  const root = frame(summary, max, unit);
  const width = Math.max(1, (W - PAD.left - PAD.right) / Math.max(values.length, 1) - 1);
  values.forEach((v, i) => {
    root.append(svg("rect", { class: "bar", x: x(i, values.length) - width / 2, y: y(v, max), width, height: H - PAD.bottom - y(v, max) }));
  });
  return root;
}

/** One or two lines; null values leave gaps. */
export function lines(series, summary, unit = "") {
  const all = series.flat().filter((v) => v != null);
  const max = Math.max(1, ...all);
  const root = frame(summary, max, unit);
  series.forEach((values, s) => {
    let d = "";
    values.forEach((v, i) => {
      if (v == null) return;
      const [px, py] = [x(i, values.length).toFixed(1), y(v, max).toFixed(1)];
      d += `${d && values[i - 1] != null ? "L" : "M"}${px},${py}`;
      root.append(svg("circle", { class: s === 0 ? "dot" : "dot2", cx: px, cy: py, r: 2 }));
    });
    if (d) root.append(svg("path", { class: s === 0 ? "line" : "line2", d }));
  });
  return root;
}

/** Stacked bars, one per bucket: each of `series` ({ values, cls }) adds its positive values
 *  above the middle axis and its negative ones below. */
export function stacked(series, summary, unit = "") {
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const up = Array.from({ length: n }, (_, i) => series.reduce((t, s) => t + Math.max(0, s.values[i] ?? 0), 0));
  const down = Array.from({ length: n }, (_, i) => series.reduce((t, s) => t - Math.min(0, s.values[i] ?? 0), 0));
  const max = Math.max(1, ...up, ...down);
  const root = frame(summary, max, unit);
  // The bottom of the frame is the largest loss, not zero.
  root.querySelectorAll("text")[1].textContent = `−${format(max)}${unit}`;
  const mid = (PAD.top + H - PAD.bottom) / 2;
  const scale = (H - PAD.top - PAD.bottom) / 2 / max;
  root.append(svg("line", { class: "axis", x1: PAD.left, y1: mid, x2: W - PAD.right, y2: mid }));
  const width = Math.max(1, (W - PAD.left - PAD.right) / Math.max(n, 1) - 2);
  for (let i = 0; i < n; i++) {
    let above = mid;
    let below = mid;
    for (const s of series) {
      const v = s.values[i] ?? 0;
      if (v === 0) continue;
      const h = Math.abs(v) * scale;
      const top = v > 0 ? above - h : below;
      root.append(svg("rect", { class: `bar ${s.cls}`, x: x(i, n) - width / 2, y: top, width, height: h }));
      if (v > 0) above -= h;
      else below += h;
    }
  }
  return root;
}
