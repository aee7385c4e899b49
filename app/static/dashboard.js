// The dashboard: polls the stats and health endpoints, keeps a few minutes of throughput
// history in memory, and redraws. `?refresh=SECONDS` sets the polling period (default 2).

import { formatNumber, lineChart, ratioBars, stackedBar } from "./charts.js";
import { renderComponents, renderLatency, renderSlow, renderVerdicts } from "./panels.js";

const STATS_URL = "/api/v1/performance/stats";
const HEALTH_URL = "/api/v1/health";
const CLASSIFY_URL = "/api/v1/classify";
const SPAN_SECONDS = 300;
const TIER_COLORS = { regex: "#4e79a7", bert: "#f28e2b", llm: "#59a14f", none: "#9d9d9d" };
const EXTRA_COLORS = ["#b07aa1", "#76b7b2", "#edc948", "#e15759"];

const refresh = Math.max(0.2, Number(new URLSearchParams(location.search).get("refresh")) || 2);
const $ = (id) => document.getElementById(id);
const rates = []; // {t: seconds since page load, v: lines per second}
let previous = null; // {uptime, total} of the last stats seen

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
  } catch (error) {
    status.textContent = `cannot reach the service: ${error.message}`;
  } finally {
    $("try-submit").disabled = false;
  }
}

$("try-form").addEventListener("submit", classify);
pollForever();
