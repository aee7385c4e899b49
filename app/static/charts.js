// Small SVG charts drawn with DOM calls only: no innerHTML, so no text can become markup.
// Each function redraws its <svg> from scratch and sets data-empty="true|false" on it.

const SVG_NS = "http://www.w3.org/2000/svg";

export function svgEl(name, attrs = {}, text = null) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = String(text);
  return el;
}

function viewBox(svg) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  return { width, height };
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en");
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return Number(value).toPrecision(1);
  return Number(value).toFixed(digits);
}

function formatSpan(seconds) {
  return seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

/** A line chart of points [{t: seconds, v: value}] over the last `maxSpan` seconds; the
 * time axis starts at the first point (at least `minSpan` wide) until history fills it. */
export function lineChart(svg, points, { maxSpan = 300, minSpan = 30, unit = "" } = {}) {
  const { width, height } = viewBox(svg);
  const pad = { left: 44, right: 8, top: 8, bottom: 18 };
  svg.replaceChildren();
  const now = points.length ? points[points.length - 1].t : 0;
  const shown = points.filter((p) => p.t >= now - maxSpan);
  const spanSeconds = Math.min(maxSpan, Math.max(minSpan, now - (shown.length ? shown[0].t : now)));
  const top = niceMax(Math.max(0, ...shown.map((p) => p.v)));
  const x = (t) => pad.left + ((t - (now - spanSeconds)) / spanSeconds) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  for (const v of [0, top / 2, top]) {
    svg.append(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(svgEl("text", { x: pad.left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" },
      formatNumber(v, v < 10 ? 1 : 0) + unit));
  }
  svg.append(svgEl("text", { x: pad.left, y: height - 4, class: "axis" }, `-${formatSpan(spanSeconds)}`));
  svg.append(svgEl("text", { x: width - pad.right, y: height - 4, class: "axis", "text-anchor": "end" }, "now"));
  svg.dataset.empty = String(shown.length < 2);
  svg.dataset.points = String(shown.length);
  svg.dataset.max = String(Math.max(0, ...shown.map((p) => p.v)));
  if (shown.length < 2) return;
  const d = shown.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
  const area = `${d}L${x(shown[shown.length - 1].t).toFixed(1)},${y(0)}L${x(shown[0].t).toFixed(1)},${y(0)}Z`;
  svg.append(svgEl("path", { d: area, class: "area" }));
  svg.append(svgEl("path", { d, class: "line" }));
}

/** One horizontal bar split into parts [{name, value, color}] in proportion to value. */
export function stackedBar(svg, parts) {
  const { width, height } = viewBox(svg);
  svg.replaceChildren();
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  svg.dataset.empty = String(total === 0);
  if (total === 0) {
    svg.append(svgEl("rect", { x: 0, y: 4, width, height: height - 8, class: "empty" }));
    return;
  }
  let at = 0;
  for (const part of parts) {
    if (!part.value) continue;
    const w = (part.value / total) * width;
    const rect = svgEl("rect", { x: at, y: 4, width: w, height: height - 8, fill: part.color,
      "data-part": part.name });
    rect.append(svgEl("title", {}, `${part.name}: ${part.value}`));
    svg.append(rect);
    at += w;
  }
}

/** Horizontal bars [{name, ratio (0..1), note}] on a 0..100 % scale. */
export function ratioBars(svg, rows) {
  const { width } = viewBox(svg);
  const rowHeight = 26;
  const labelWidth = 44;
  const barWidth = width - labelWidth - 140; // room for "91.8 % (4706/5129)"
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, rows.length) * rowHeight + 4}`);
  svg.replaceChildren();
  svg.dataset.empty = String(rows.length === 0);
  if (!rows.length) {
    svg.append(svgEl("text", { x: 0, y: 18, class: "axis" }, "no lookups yet"));
    return;
  }
  rows.forEach((row, i) => {
    const top = i * rowHeight + 4;
    svg.append(svgEl("text", { x: 0, y: top + 14, class: "label" }, row.name));
    svg.append(svgEl("rect", { x: labelWidth, y: top, width: barWidth, height: 18, class: "track" }));
    svg.append(svgEl("rect", { x: labelWidth, y: top, width: Math.max(0, row.ratio) * barWidth,
      height: 18, class: "fill", "data-level": row.name }));
    svg.append(svgEl("text", { x: labelWidth + barWidth + 6, y: top + 14, class: "label" },
      `${(row.ratio * 100).toFixed(1)} % ${row.note}`));
  });
}

/** A p50..p99 range bar with a p95 tick, scaled to `max` ms; returns a new <svg>. */
export function rangeBar(p50, p95, p99, max) {
  const width = 160;
  const scale = (v) => (max > 0 ? Math.min(1, v / max) * (width - 2) + 1 : 1);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} 12`, class: "range", role: "img" });
  svg.append(svgEl("rect", { x: scale(p50), y: 3, width: Math.max(1, scale(p99) - scale(p50)),
    height: 6, class: "fill" }));
  svg.append(svgEl("line", { x1: scale(p95), x2: scale(p95), y1: 0, y2: 12, class: "tick" }));
  return svg;
}
