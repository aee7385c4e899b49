// The dashboard: polls the stats, health and templates endpoints, keeps a few minutes of
// throughput history in memory, and redraws. `?refresh=SECONDS` sets the polling period
// (default 2). The admin token typed into the Templates panel lives in that input only: it
// is sent with a correction and never written to any storage.

import { formatNumber, lineChart, ratioBars, stackedBar } from "./charts.js";
import {
  renderComponents, renderLatency, renderSlow, renderTemplates, renderVerdicts,
} from "./panels.js";

const STATS_URL = "/api/v1/performance/stats";
const HEALTH_URL = "/api/v1/health";
const CLASSIFY_URL = "/api/v1/classify";
const TEMPLATES_URL = "/api/v1/templates";
const CORRECTIONS_URL = "/api/v1/corrections";
const SPAN_SECONDS = 300;
const TIER_COLORS = { regex: "#4e79a7", bert: "#f28e2b", llm: "#59a14f", none: "#9d9d9d" };
const EXTRA_COLORS = ["#b07aa1", "#76b7b2", "#edc948", "#e15759"];

const refresh = Math.max(0.2, Number(new URLSearchParams(location.search).get("refresh")) || 2);
const $ = (id) => document.getElementById(id);
const rates = []; // {t: seconds since page load, v: lines per second}
let previous = null; // {uptime, total} of the last stats seen
let headLabels = []; // the taxonomy's labels, as /health lists them
let templatesLoading = false;
let templatesStale = false; // a forced reload asked for while one was under way

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// Lines through the pipeline: the sum of lines per deciding tier.
function linesTotal(stats) {
  const total = Object.values(stats.tiers || {}).reduce((sum, n) => sum + n, 0);
  return { total, what: "Lines classified" };
}

function drawThroughput(stats) {
  const { total, what } = linesTotal(stats);
  $("rate-title").textContent = `${what} per second`;
  const uptime = stats.uptime_seconds;
  if (previous && total >= previous.total && uptime > previous.uptime) {
    rates.push({ t: performance.now() / 1000, v: (total - previous.total) / (uptime - previous.uptime) });
    while (rates.length && rates[0].t < rates[rates.length - 1].t - SPAN_SECONDS) rates.shift();
  }
  previous = { total, uptime };
  lineChart($("lines-chart"), rates, { maxSpan: SPAN_SECONDS });
  const last = rates[rates.length - 1];
  $("rate-now").textContent = last ? `now ${formatNumber(last.v)}/s · ${total} in total` : "";
}

function drawTiers(stats) {
  const names = Object.keys(TIER_COLORS);
  for (const name of Object.keys(stats.tiers || {})) if (!names.includes(name)) names.push(name);
  const parts = names.map((name, i) => ({
    name, value: (stats.tiers || {})[name] || 0,
    color: TIER_COLORS[name] || EXTRA_COLORS[i % EXTRA_COLORS.length],
  }));
  stackedBar($("tier-chart"), parts);
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  $("tier-total").textContent = total ? `${total} lines` : "";
  $("tier-legend").replaceChildren(...parts.map((p) => {
    const li = document.createElement("li");
    li.dataset.tier = p.name;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = p.color;
    const text = document.createElement("span");
    const share = total ? ` (${((p.value / total) * 100).toFixed(1)} %)` : "";
    text.textContent = `${p.name}: ${p.value}${share}`;
    li.append(swatch, text);
    return li;
  }));
}

function drawCaches(stats) {
  const rows = Object.entries(stats.caches || {}).map(([level, c]) => ({
    name: level, ratio: c.hit_rate || 0, note: `(${c.hits}/${c.hits + c.misses})`,
  }));
  ratioBars($("cache-chart"), rows);
}

function drawStats(stats) {
  drawThroughput(stats);
  drawTiers(stats);
  drawCaches(stats);
  renderLatency($("latency-table").tBodies[0], stats.functions);
  $("slow-threshold").textContent = `(p95 over ${formatNumber(stats.slow_threshold_ms, 1)} ms)`;
  renderSlow($("slow-table").tBodies[0], $("slow-none"), stats.slow_functions);
}

function drawHealth(health) {
  const overall = $("overall");
  overall.dataset.status = health.status;
  overall.textContent = health.status;
  $("meta").textContent = `v${health.version} · up ${formatNumber(health.uptime_seconds / 60, 1)} min`;
  renderComponents($("components"), health.components);
  const labels = health.labels ?? health.components?.bert?.head?.labels;
  if (Array.isArray(labels) && labels.length) headLabels = labels;
}

async function poll() {
  const [stats, health] = await Promise.allSettled([getJson(STATS_URL), getJson(HEALTH_URL)]);
  const problems = [];
  if (stats.status === "fulfilled") drawStats(stats.value);
  else problems.push(stats.reason.message);
  if (health.status === "fulfilled") drawHealth(health.value);
  else {
    problems.push(health.reason.message);
    $("overall").dataset.status = "unknown";
    $("overall").textContent = "unreachable";
  }
  await loadTemplates();
  const connection = $("connection");
  connection.textContent = problems.length
    ? `cannot refresh: ${problems.join("; ")}`
    : `updated ${new Date().toLocaleTimeString()}`;
  connection.dataset.state = problems.length ? "error" : "ok";
  document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
}

async function pollForever() {
  try {
    if (!document.hidden) await poll(); // a background tab costs the service nothing
  } finally {
    setTimeout(pollForever, refresh * 1000);
  }
}

function errorMessage(status, body) {
  if (body && typeof body.message === "string") return body.message;
  if (body && typeof body.detail === "string") return body.detail;
  return `HTTP ${status}`;
}

async function classify(event) {
  event.preventDefault();
  const status = $("try-status");
  const lines = $("try-lines").value.split(/\r?\n/).filter((line) => line.trim());
  if (!lines.length) {
    status.textContent = "paste at least one log line";
    return;
  }
  const source = $("try-source").value;
  status.textContent = `classifying ${lines.length} line(s)…`;
  $("try-submit").disabled = true;
  try {
    const response = await fetch(CLASSIFY_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ logs: lines.map((log_message) => ({ source, log_message })) }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      status.textContent = `refused: ${errorMessage(response.status, body)}`;
      return;
    }
    renderVerdicts($("try-results").tBodies[0], lines, body.results);
    $("try-results").hidden = false;
    status.textContent = `${body.summary.total} line(s) in ${formatNumber(body.summary.elapsed_ms, 1)} ms`;
    poll();
    loadTemplates({ force: true });
  } catch (error) {
    status.textContent = `cannot reach the service: ${error.message}`;
  } finally {
    $("try-submit").disabled = false;
  }
}

// -- the Templates panel ------------------------------------------------------------------

/** `{status, body}` of a JSON request; `body` is null when the answer is not JSON. */
async function request(url, init = {}) {
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  const response = await fetch(url, { cache: "no-store", ...init, headers });
  return { status: response.status, body: await response.json().catch(() => null) };
}

function templatesUrl() {
  const params = new URLSearchParams({ limit: "50" });
  const show = $("templates-show").value;
  if (show === "low") params.set("max_confidence", $("templates-max-confidence").value || "0.8");
  if (show === "unclassified") params.set("label", "Unclassified");
  const source = $("templates-source").value.trim();
  if (source) params.set("source", source);
  return `${TEMPLATES_URL}?${params}`;
}

function sayTemplates(text, state) {
  const status = $("templates-status");
  status.textContent = text;
  status.dataset.state = state;
}

// A poll must not redraw the rows under an operator who is picking a label.
function pickingLabel() {
  const pickers = [...$("templates-table").tBodies[0].querySelectorAll("select")];
  return pickers.some((s) => s === document.activeElement || s.value !== s.dataset.current);
}

async function loadTemplates({ force = false } = {}) {
  if (templatesLoading) templatesStale ||= force;
  if (templatesLoading || (!force && pickingLabel())) return;
  templatesLoading = true;
  try {
    const [list, corrections] = await Promise.all([
      request(templatesUrl()), request(CORRECTIONS_URL).catch(() => null),
    ]);
    if (list.status !== 200) {
      const why = list.status === 401 ? "the service wants its API token (LOGCLASS_API_TOKEN)"
        : errorMessage(list.status, list.body);
      sayTemplates(`cannot list templates: ${why}`, "error-list");
      return;
    }
    const byKey = new Map((corrections?.status === 200 ? corrections.body.corrections : [])
      .map((c) => [`${c.route}\n${c.template}`, c.label]));
    const templates = list.body.templates;
    const seen = templates.map((t) => t.label).filter((l) => l !== "Unclassified");
    const labels = [...new Set([...headLabels, ...seen, ...byKey.values()])];
    renderTemplates($("templates-table").tBodies[0], templates, labels, byKey);
    $("templates-tracked").textContent = `(${list.body.tracked} tracked of ${list.body.capacity})`;
    if ($("templates-status").dataset.state === "error-list") sayTemplates("", "");
  } catch (error) {
    sayTemplates(`cannot reach the service: ${error.message}`, "error-list");
  } finally {
    templatesLoading = false;
    if (templatesStale) {
      templatesStale = false;
      loadTemplates({ force: true }); // what it fetched may predate a correction
    }
  }
}

// What an operator can do about each refusal of a correction.
const REFUSALS = {
  401: "the admin token was refused (401)",
  403: "corrections are disabled on this service (403)",
  404: "there is no such correction (404)",
  422: "the service refused the correction (422)",
  503: "the service cannot save corrections now (503)",
};

/** POST (correct) or DELETE (undo) the correction of one row's template. */
async function sendCorrection(row, method, label) {
  const token = $("admin-token").value.trim();
  if (!token) {
    sayTemplates("type the admin token (LOGCLASS_ADMIN_TOKEN) to correct a label", "error");
    $("admin-token").focus();
    return;
  }
  const { route, template } = row.dataset;
  const { status, body } = await request(CORRECTIONS_URL, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ source: route, log_message: template, label }),
  });
  if (status !== 200) {
    const refusal = REFUSALS[status] || `the service answered HTTP ${status}`;
    sayTemplates(`${refusal}: ${errorMessage(status, body)}`, "error");
    return;
  }
  sayTemplates(method === "POST"
    ? `“${body.template}” on ${body.route} is now ${body.label}, from its next line on`
    : `correction removed: “${body.template}” on ${body.route} is classified as before`, "ok");
  await loadTemplates({ force: true });
}

async function onTemplatesClick(event) {
  const action = event.target.closest("button[data-action]");
  if (!action) return;
  const row = action.closest("tr");
  const picker = row.querySelector("select");
  if (action.dataset.action === "correct" && !picker.value) {
    sayTemplates("choose a label first", "error");
    return;
  }
  action.disabled = true;
  try {
    if (action.dataset.action === "correct") await sendCorrection(row, "POST", picker.value);
    else await sendCorrection(row, "DELETE", row.dataset.corrected);
  } catch (error) {
    sayTemplates(`cannot reach the service: ${error.message}`, "error");
  } finally {
    action.disabled = false;
  }
}

function onFiltersChange() {
  $("templates-max-confidence").disabled = $("templates-show").value !== "low";
  loadTemplates({ force: true });
}

$("templates-table").addEventListener("click", onTemplatesClick);
for (const id of ["templates-show", "templates-max-confidence", "templates-source"]) {
  $(id).addEventListener("change", onFiltersChange);
}
$("templates-max-confidence").disabled = true;
$("try-form").addEventListener("submit", classify);
pollForever();
