// Renders the dashboard's tables and lists from the JSON the API returns.
// Text goes in through textContent only; nothing from the server is parsed as HTML.

import { formatNumber, rangeBar } from "./charts.js";

export function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (className) td.className = className;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

/** Rows of the latency table: one per HTTP route, from the `http.request` timers. */
export function renderLatency(tbody, functions) {
  const routes = Object.values(functions || {})
    .filter((f) => f.name === "http.request")
    .sort((a, b) => b.calls - a.calls);
  const max = Math.max(0, ...routes.map((f) => f.p99_ms));
  tbody.replaceChildren(...routes.map((f) => {
    const range = cell("", "range");
    range.append(rangeBar(f.p50_ms, f.p95_ms, f.p99_ms, max));
    const tr = row(
      cell(`${f.labels.method || ""} ${f.labels.route || ""}`.trim(), "route"),
      cell(f.calls, "num"), cell(f.errors, "num"),
      cell(formatNumber(f.p50_ms, 2), "num"), cell(formatNumber(f.p95_ms, 2), "num"),
      cell(formatNumber(f.p99_ms, 2), "num"), range,
    );
    tr.dataset.route = f.labels.route || "";
    return tr;
  }));
  if (!routes.length) tbody.replaceChildren(row(cell("no requests measured yet", "muted")));
}

export function renderSlow(tbody, none, slow) {
  tbody.replaceChildren(...(slow || []).map((s) =>
    row(cell(s.function, "route"), cell(formatNumber(s.p95_ms, 1), "num"), cell(s.calls, "num"))));
  none.hidden = Boolean(slow && slow.length);
}

// What each known component's one-line summary and detail fields are.
const DETAILS = {
  regex: (c) => [`${c.rules ?? "?"} rules`, c.combined === false ? "matched one by one" : null],
  bert: (c) => [
    c.loaded ? `model loaded${c.load_seconds ? ` in ${formatNumber(c.load_seconds, 1)} s` : ""}`
      : c.status === "loading" ? "model loading" : "model not loaded",
    c.error,
  ],
  llm: (c) => [
    c.configured === false ? "no LLM server configured" : `breaker ${c.breaker ?? "?"}`,
    c.consecutive_failures ? `${c.consecutive_failures} consecutive failures` : null,
    c.last_error,
  ],
  cache: (c) => [
    c.status === "disabled" ? "caching off (LOGCLASS_CACHE_ENABLED=false)"
      : c.l2 === "off" ? "memory only" : `disk level ${c.l2 ?? "?"}`,
    c.last_error,
  ],
};

function genericDetails(component) {
  return Object.entries(component)
    .filter(([key, value]) => key !== "status" && value !== null && typeof value !== "object")
    .map(([key, value]) => `${key}: ${value}`);
}

/** One list item per component: name, a status badge, and what explains the status. */
export function renderComponents(list, components) {
  list.replaceChildren(...Object.entries(components || {}).map(([name, component]) => {
    const li = document.createElement("li");
    li.dataset.component = name;
    li.dataset.status = component.status || "unknown";
    const title = document.createElement("strong");
    title.textContent = name;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.status = component.status || "unknown";
    badge.textContent = component.status || "unknown";
    const details = document.createElement("span");
    details.className = "details";
    const lines = (DETAILS[name] || genericDetails)(component).filter(Boolean);
    details.textContent = lines.join(" · ");
    li.append(title, badge, details);
    return li;
  }));
}

/** The try-it table: one row per input line, in order, as the API answered. */
export function renderVerdicts(tbody, lines, results) {
  tbody.replaceChildren(...results.map((r, i) => {
    const tr = row(
      cell(lines[i], "line"), cell(r.label, "label"), cell(r.tier, "tier"),
      cell(r.confidence === null ? null : formatNumber(r.confidence, 3), "num"),
      cell(r.template, "template"), cell(r.cached ? "yes" : "no"), cell(r.reason),
    );
    tr.dataset.tier = r.tier;
    return tr;
  }));
}
