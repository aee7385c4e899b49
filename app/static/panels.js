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
  corrections: (c) => [
    `${c.corrections ?? "?"} operator correction${c.corrections === 1 ? "" : "s"}`, c.last_error,
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

function button(text, action, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.action = action;
  b.title = title;
  return b;
}

/** The label picker and buttons of one Templates row: the current label preselected (a
 * placeholder when it is none of `labels`), and "undo" where an operator's correction holds. */
function correctionCell(t, labels, corrected) {
  const picker = document.createElement("select");
  picker.className = "label-choice";
  picker.setAttribute("aria-label", `label for ${t.template}`);
  const current = corrected || t.label;
  if (!labels.includes(current)) picker.append(new Option("choose…", "", true, true));
  picker.append(...labels.map((name) => new Option(name, name, false, name === current)));
  picker.dataset.current = picker.value;
  const td = cell("", "correct");
  td.append(picker, button("correct", "correct", "give every line of this template this label"));
  if (corrected) {
    td.append(button("undo", "undo", `remove the correction to ${corrected}`));
  }
  return td;
}

/** The Templates table: one row per template, most seen first. `corrections` maps
 * `route + "\n" + template` to the operator's label. */
export function renderTemplates(tbody, templates, labels, corrections) {
  tbody.replaceChildren(...templates.map((t) => {
    const corrected = corrections.get(`${t.route}\n${t.template}`);
    const seen = t.last_seen ? new Date(t.last_seen) : null;
    const last = cell(seen ? seen.toLocaleTimeString() : null, "num");
    if (seen) last.title = t.last_seen;
    const label = cell(t.label, "label");
    if (corrected && corrected !== t.label) {
      const next = document.createElement("span");
      next.className = "muted";
      next.textContent = ` → ${corrected} from its next line`;
      label.append(next);
    }
    const tr = row(
      cell(t.route, "route"), cell(t.template, "template"), label, cell(t.tier, "tier"),
      cell(t.confidence === null ? null : formatNumber(t.confidence, 3), "num"),
      cell(t.count, "num"), last, correctionCell(t, labels, corrected),
    );
    Object.assign(tr.dataset, { route: t.route, template: t.template, label: t.label, tier: t.tier });
    if (corrected) tr.dataset.corrected = corrected;
    return tr;
  }));
  if (!templates.length) {
    const empty = cell("no templates match yet: classify some lines", "muted");
    empty.colSpan = 8;
    tbody.replaceChildren(row(empty));
  }
}
