// VitalStream nurse station page. Live over Server-Sent Events (/events); commands via POST.
// Every piece of data reaches the DOM through textContent or setAttribute, never innerHTML.
"use strict";

const RANK = { high: 0, medium: 1, low: 2 };
const KINDS = {
  hr_high: "Heart rate high", hr_low: "Heart rate low", spo2_low: "SpO2 low",
  rr_high: "Respiratory rate high", rr_low: "Respiratory rate low",
  temp_high: "Temperature high", temp_low: "Temperature low", no_data: "No data from device",
};
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SVG = "http://www.w3.org/2000/svg";
// The server sends "trends" every 5 s: this much silence means the stream is dead even if TCP is not.
const WATCHDOG_MS = 30000;

const alertsById = new Map();  // alert_id -> alert view
const trends = new Map();      // patient -> {vital: [[ms, value], ...]}
const cards = new Map();       // alert_id -> <li>
const pending = new Map();     // alert_id -> action in flight
const results = new Map();     // alert_id -> {kind, text}
let streamUp = false;
let broker = { connected: false, ready: false };
let lastMessage = 0;
let source = null;

const $ = (id) => document.getElementById(id);

function byUrgency(a, b) {
  return (RANK[a.priority] - RANK[b.priority]) || (a.raised_ms - b.raised_ms) || (a.alert_id < b.alert_id ? -1 : 1);
}

function age(ms) {
  const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function num(value, unit) {
  if (value === null || value === undefined) return null;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return unit ? `${text} ${unit}` : text;
}

function setText(card, selector, text) {
  const el = card.querySelector(selector);
  el.textContent = text || "";
  el.hidden = !text;
}

function facts(alert) {
  const rows = [];
  const value = num(alert.value, alert.unit);
  if (value) rows.push(["value", value]);
  const limit = num(alert.limit, alert.unit);
  if (limit) rows.push(["limit", limit]);
  const base = alert.baseline || {};
  if (base.mean !== undefined) {
    const sd = base.sd !== undefined ? ` ± ${num(base.sd)}` : "";
    rows.push(["baseline", `${num(base.mean, alert.unit)}${sd}`]);
  } else if (Object.keys(base).length) {
    rows.push(["baseline", Object.entries(base).map(([k, v]) => `${k} ${num(v)}`).join(", ")]);
  }
  const sqi = Object.entries(alert.sqi || {});
  if (sqi.length) rows.push(["signal quality", sqi.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")]);
  if (alert.acknowledged_by) rows.push(["acknowledged by", alert.acknowledged_by]);
  return rows;
}

function drawTrend(card, alert) {
  const figure = card.querySelector(".trend");
  const svg = card.querySelector(".spark");
  const series = alert.vital ? (trends.get(alert.patient) || {})[alert.vital] : null;
  svg.replaceChildren();
  if (!series || series.length < 2) { figure.hidden = true; return; }
  figure.hidden = false;
  const t0 = series[0][0], t1 = series[series.length - 1][0];
  const values = series.map((p) => p[1]);
  if (alert.limit !== null && alert.limit !== undefined) values.push(alert.limit);
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1) { hi += 0.5; lo -= 0.5; }
  const pad = (hi - lo) * 0.1;
  lo -= pad; hi += pad;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * 240;
  const y = (v) => 48 - ((v - lo) / (hi - lo)) * 48;
  if (alert.limit !== null && alert.limit !== undefined) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("class", "limit");
    line.setAttribute("x1", "0"); line.setAttribute("x2", "240");
    line.setAttribute("y1", y(alert.limit).toFixed(1)); line.setAttribute("y2", y(alert.limit).toFixed(1));
    svg.appendChild(line);
  }
  const poly = document.createElementNS(SVG, "polyline");
  poly.setAttribute("class", "line");
  poly.setAttribute("points", series.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
  svg.appendChild(poly);
  const minutes = Math.max(1, Math.round((t1 - t0) / 60000));
  svg.setAttribute("aria-label", `${alert.vital} over the last ${minutes} min`);
  card.querySelector(".trend-caption").textContent =
    `${alert.vital}, last ${t1 - t0 < 60000 ? Math.round((t1 - t0) / 1000) + " s" : minutes + " min"}` +
    (alert.limit !== null && alert.limit !== undefined ? " (dashed: limit)" : "");
}

function newCard(alertId) {
  const card = $("card-template").content.firstElementChild.cloneNode(true);
  card.dataset.alertId = alertId;
  for (const button of card.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => send(alertId, button.dataset.action));
  }
  return card;
}

function fill(card, alert) {
  card.dataset.priority = alert.priority;
  card.dataset.state = alert.state;
  card.dataset.retrospective = String(alert.retrospective);
  setText(card, ".priority", alert.priority);
  setText(card, ".patient", alert.patient);
  setText(card, ".kind", KINDS[alert.kind] || alert.kind.replace(/_/g, " "));
  setText(card, ".age", age(alert.raised_ms));
  const badge = card.querySelector(".state-badge");
  badge.textContent = alert.state;
  badge.dataset.state = alert.state;
  card.querySelector(".retro-badge").hidden = !alert.retrospective;
  card.querySelector(".escalated-badge").hidden = !alert.escalated;
  setText(card, ".summary", alert.summary);
  setText(card, ".response", alert.response);
  const dl = card.querySelector(".facts");
  dl.replaceChildren();
  for (const [name, text] of facts(alert)) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = text;
    dl.append(dt, dd);
  }
  drawTrend(card, alert);
  const busy = pending.has(alert.alert_id);
  for (const button of card.querySelectorAll("button[data-action]")) {
    button.disabled = busy || !broker.ready;
    if (button.dataset.action === "acknowledge") button.hidden = alert.state !== "active";
  }
  const result = results.get(alert.alert_id);
  const out = card.querySelector(".result");
  out.textContent = busy ? "sending…" : (result ? result.text : "");
  out.dataset.kind = busy ? "pending" : (result ? result.kind : "");
  out.dataset.status = !busy && result ? result.status || "" : "";
  out.dataset.source = !busy && result ? result.source || "" : "";
}

function render() {
  const list = $("alerts");
  const ordered = [...alertsById.values()].sort(byUrgency);
  for (const [id, card] of cards) {
    if (!alertsById.has(id)) { card.remove(); cards.delete(id); }
  }
  for (const alert of ordered) {
    let card = cards.get(alert.alert_id);
    if (!card) { card = newCard(alert.alert_id); cards.set(alert.alert_id, card); }
    fill(card, alert);
    list.appendChild(card);  // appending an existing node moves it: this keeps the sorted order
  }
  $("empty").hidden = ordered.length > 0;
  const high = ordered.filter((a) => a.priority === "high" && a.state === "active").length;
  const counts = { high: 0, medium: 0, low: 0 };
  for (const a of ordered) counts[a.priority] += 1;
  $("counts").textContent = `${ordered.length} open: ${counts.high} high, ${counts.medium} medium, ${counts.low} low`;
  document.title = (high ? `(${high}) ` : "") + "VitalStream nurse station";
}

function setPatient(patient, alerts, patientTrends) {
  for (const [id, alert] of alertsById) if (alert.patient === patient) alertsById.delete(id);
  for (const alert of alerts) alertsById.set(alert.alert_id, alert);
  if (!alerts.length) trends.delete(patient);
  else if (patientTrends) trends.set(patient, patientTrends);
}

function updateBanner() {
  const ok = streamUp && broker.ready;
  $("banner").hidden = ok;
  document.body.classList.toggle("stale", !ok);
  $("banner-detail").textContent = !streamUp
    ? "The station server is not answering; alerts shown may be out of date."
    : (broker.ready ? "" : "The station has lost the message broker; alerts shown may be out of date.");
}

function seen() { lastMessage = Date.now(); }

function connect() {
  source = new EventSource("events");
  source.addEventListener("open", () => { streamUp = true; seen(); updateBanner(); });
  source.addEventListener("error", () => { streamUp = false; updateBanner(); render(); });
  source.addEventListener("snapshot", (e) => {
    seen();
    const data = JSON.parse(e.data);
    $("ward").textContent = data.ward;
    alertsById.clear();
    trends.clear();
    for (const alert of data.alerts) alertsById.set(alert.alert_id, alert);
    for (const [patient, t] of Object.entries(data.trends)) trends.set(patient, t);
    broker = data.status;
    streamUp = true;
    updateBanner();
    render();
  });
  source.addEventListener("patient", (e) => {
    seen();
    const data = JSON.parse(e.data);
    setPatient(data.patient, data.alerts, data.trends[data.patient]);
    render();
  });
  source.addEventListener("trends", (e) => {
    seen();
    trends.clear();
    for (const [patient, t] of Object.entries(JSON.parse(e.data))) trends.set(patient, t);
    render();
  });
  source.addEventListener("status", (e) => {
    seen();
    broker = JSON.parse(e.data);
    updateBanner();
    render();
  });
}

const MESSAGES = {
  200: (body) => body.status === "duplicate" ? "already done" : "done",
  404: () => "this alert no longer exists",
  409: (body) => `not allowed: ${body.detail || body.reason}`,
  504: () => "no answer from the processor: it may still apply, watch the card",
  503: () => "the station is offline: try again shortly",
};

async function send(alertId, action) {
  const staff = $("staff").value.trim();
  if (!ID.test(staff)) {
    results.set(alertId, { kind: "error", text: "enter your staff id first (letters, digits, . _ -)" });
    $("staff").focus();
    render();
    return;
  }
  localStorage.setItem("vitalstream.staff", staff);
  pending.set(alertId, action);
  results.delete(alertId);
  render();
  let result;
  try {
    const response = await fetch(`api/alerts/${encodeURIComponent(alertId)}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ by: staff }),
    });
    const body = await response.json();
    const text = (MESSAGES[response.status] || (() => `refused: ${body.reason || response.status}`))(body);
    // Status and source stay on the element for whoever looks closer (and for the browser test).
    result = { kind: response.ok ? "ok" : "refused", text, status: String(response.status), source: body.source || "" };
  } catch (err) {
    result = { kind: "error", text: "the station did not answer", status: "", source: "" };
  }
  pending.delete(alertId);
  results.set(alertId, result);
  render();
}

function tick() {
  for (const [id, card] of cards) {
    const alert = alertsById.get(id);
    if (alert) card.querySelector(".age").textContent = age(alert.raised_ms);
  }
  if (streamUp && Date.now() - lastMessage > WATCHDOG_MS) {
    // Silent stream: drop it and start over (the server sends a fresh snapshot).
    streamUp = false;
    updateBanner();
    source.close();
    connect();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("staff").value = localStorage.getItem("vitalstream.staff") || "";
  updateBanner();
  connect();
  setInterval(tick, 1000);
});
