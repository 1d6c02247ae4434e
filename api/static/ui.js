// The operators' page: calls the JSON API with the key the operator enters (kept in sessionStorage, for
// this tab only). Builds every element with textContent, never innerHTML: claim data is never markup.
"use strict";

const KEY_STORE = "claims_tasks.api_key";
const BATCH_POLL_MS = 1000;
const FLEET_POLL_MS = 2000;

const state = {
  key: sessionStorage.getItem(KEY_STORE) || "",
  role: null,
  page: 1,
  pageSize: 25,
  total: 0,
  filters: {},
  selected: null,
  timers: [],
};

class ApiFailure extends Error {
  constructor(status, message, correlationId) {
    super(message);
    this.status = status;
    this.correlationId = correlationId;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ "X-API-Key": state.key, Accept: "application/json" }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : response.statusText;
    throw new ApiFailure(response.status, message, body && body.correlation_id);
  }
  return body;
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function say(text, isError) {
  const box = document.getElementById("message");
  box.textContent = text || "";
  box.hidden = !text;
  box.className = isError ? "error" : "info";
}

function reportFailure(err) {
  if (err instanceof ApiFailure) {
    const ref = err.correlationId ? ` (correlation id ${err.correlationId})` : "";
    say(`${err.status}: ${err.message}${ref}`, true);
    if (err.status === 401) stopPolling();
  } else {
    say(`network error: ${err.message}`, true);
  }
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

// ---------------------------------------------------------------- batches
function renderBatches(page) {
  const body = document.querySelector("#batches tbody");
  const rows = page.items.map((b) => {
    const tr = el("tr", null, { "data-batch-id": b.batch_id, "data-status": b.status });
    tr.append(el("td", b.batch_id, { class: "mono" }), el("td", b.status, { class: "status" }));
    const cell = el("td", null, { class: "progress" });
    const bar = el("progress", null, { max: "100", value: String(b.percent) });
    cell.append(bar, el("span", `${b.percent.toFixed(1)}%`, { class: "pct" }),
      el("span", ` ${b.processed.toLocaleString()}/${b.total.toLocaleString()}`, { class: "count" }));
    tr.append(cell, el("td", b.counts.done.toLocaleString()), el("td", b.counts.failed.toLocaleString()),
      el("td", b.counts.review.toLocaleString()),
      el("td", b.claims_per_second === null ? "—" : b.claims_per_second.toLocaleString()),
      el("td", fmtSeconds(b.eta_seconds)));
    return tr;
  });
  body.replaceChildren(...rows);
  if (!rows.length) {
    const empty = el("tr");
    empty.append(el("td", "no batches yet", { colspan: "8" }));
    body.append(empty);
  }
}

async function refreshBatches() {
  try {
    renderBatches(await api("/batches?page_size=20"));
  } catch (err) {
    reportFailure(err);
  }
}

// ---------------------------------------------------------------- fleet
async function refreshFleet() {
  try {
    const s = await api("/status");
    const workers = s.workers.map((w) => w.name).join(", ") || "none answering";
    const last = s.last_dispatch ? `${s.last_dispatch.batch_id} at ${fmtTime(s.last_dispatch.at)}` : "never";
    document.getElementById("fleet-summary").textContent =
      `workers: ${workers} · in flight: ${s.in_flight.claims.toLocaleString()} claims in ` +
      `${s.in_flight.batches} batch(es), ${s.in_flight.chunks_unacked} chunk(s) unacked · last dispatch: ${last}`;
    const body = document.querySelector("#queues tbody");
    body.replaceChildren(...s.queues.map((q) => {
      const tr = el("tr", null, { "data-queue": q.name });
      tr.append(el("td", q.name, { class: "mono" }), el("td", q.depth.toLocaleString()));
      return tr;
    }));
  } catch (err) {
    reportFailure(err);
  }
}

// ---------------------------------------------------------------- failed claims
function readFilters() {
  const form = document.getElementById("filters");
  const filters = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (value) filters[name] = value;
  }
  return filters;
}

async function refreshFailed() {
  const params = new URLSearchParams(Object.assign({}, state.filters,
    { page: String(state.page), page_size: String(state.pageSize) }));
  try {
    const page = await api(`/failed_claims?${params}`);
    state.total = page.total;
    const body = document.querySelector("#failed tbody");
    body.replaceChildren(...page.items.map((f) => {
      const tr = el("tr", null, { "data-id": String(f.id), "data-claim-id": f.claim_id, tabindex: "0" });
      tr.append(el("td", f.id), el("td", f.claim_id, { class: "mono" }), el("td", f.facility_id || "—"),
        el("td", f.failure_category), el("td", f.rule_codes.join(", ")), el("td", f.status, { class: "status" }),
        el("td", f.assigned_to || "—"), el("td", fmtTime(f.created_at)));
      tr.addEventListener("click", () => openClaim(f.id));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openClaim(f.id); });
      return tr;
    }));
    const pages = Math.max(1, Math.ceil(page.total / state.pageSize));
    document.getElementById("page-info").textContent =
      `page ${state.page} of ${pages} · ${page.total.toLocaleString()} failed claims`;
    document.getElementById("prev-page").disabled = state.page <= 1;
    document.getElementById("next-page").disabled = state.page >= pages;
  } catch (err) {
    reportFailure(err);
  }
}

const CLAIM_FIELDS = [
  "claim_id", "facility_id", "patient_first_name", "patient_last_name", "date_of_birth", "sex",
  "patient_account_number", "subscriber_id", "payer_id", "financial_class", "billing_npi", "rendering_npi",
  "place_of_service", "claim_frequency", "service_from", "service_to", "total_charge", "prior_auth_number",
  "received_at",
];

function renderDetail(d) {
  document.getElementById("detail-id").textContent = `${d.id} (${d.claim_id})`;
  const badge = document.getElementById("detail-phi");
  badge.textContent = d.phi === "disclosed" ? "PHI shown (audited)" : "PHI masked";
  badge.dataset.phi = d.phi;
  const fields = document.getElementById("detail-fields");
  const items = [["status", d.status], ["category", d.failure_category], ["assigned to", d.assigned_to || "—"],
    ["resolution", d.resolution || "—"], ["potential revenue", d.potential_revenue || "—"]];
  if (d.claim) for (const name of CLAIM_FIELDS) items.push([name, d.claim[name] ?? "—"]);
  fields.replaceChildren(...items.flatMap(([k, v]) => [el("dt", k), el("dd", v, { "data-field": k })]));
  document.getElementById("detail-failures").replaceChildren(
    ...d.failures.map((f) => el("li", `${f.code} (${f.category}, ${f.field}): ${f.message}`)));
  const lines = d.claim ? d.claim.lines : [];
  document.querySelector("#detail-lines tbody").replaceChildren(...lines.map((ln) => {
    const tr = el("tr");
    for (const v of [ln.line_number, ln.procedure_code, (ln.modifiers || []).join(" "), ln.units, ln.line_charge,
      ln.service_date, ln.place_of_service, (ln.diagnosis_pointers || []).join(",")]) tr.append(el("td", v ?? "—"));
    return tr;
  }));
  document.getElementById("detail-diagnoses").replaceChildren(
    ...(d.claim ? d.claim.diagnoses : []).map((dx) => el("li", `${dx.sequence}: ${dx.icd10_code ?? "—"}`)));
  const canReview = state.role === "user" || state.role === "admin";
  document.getElementById("review").hidden = !canReview;
  document.getElementById("review-result").textContent = "";
  document.getElementById("detail").hidden = false;
}

async function openClaim(id) {
  try {
    state.selected = id;
    renderDetail(await api(`/failed_claims/${encodeURIComponent(id)}`));
  } catch (err) {
    reportFailure(err);
  }
}

async function review(action) {
  if (state.selected === null) return;
  const form = document.getElementById("review-form");
  const data = new FormData(form);
  const notes = data.get("notes") || null;
  let body;
  if (action === "assign") body = { assignee: data.get("assignee") || "", notes };
  else if (action === "resolve") body = { resolution: data.get("resolution"), notes };
  else {
    // "field=value; field=value": claim-level corrections (the API names any field it does not take).
    const changes = {};
    for (const pair of String(data.get("corrections") || "").split(";")) {
      const at = pair.indexOf("=");
      if (at > 0) changes[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
    body = Object.keys(changes).length ? { notes, changes } : { notes };
  }
  try {
    const result = await api(`/failed_claims/${state.selected}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    say("");
    await openClaim(state.selected);
    document.getElementById("review-result").textContent = `${action}: ${result.status}`;
    await refreshFailed();
  } catch (err) {
    reportFailure(err);
  }
}

// ---------------------------------------------------------------- start
function stopPolling() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
}

async function start() {
  stopPolling();
  if (!state.key) {
    say("Enter an API key to begin.", false);
    return;
  }
  try {
    const me = await api("/whoami");
    state.role = me.role;
    document.getElementById("whoami").textContent = `${me.name} (${me.role})`;
    say("");
  } catch (err) {
    state.role = null;
    document.getElementById("whoami").textContent = "";
    reportFailure(err);
    return;
  }
  await Promise.all([refreshBatches(), refreshFleet(), refreshFailed()]);
  state.timers.push(setInterval(refreshBatches, BATCH_POLL_MS), setInterval(refreshFleet, FLEET_POLL_MS));
}

document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("api-key");
  input.value = state.key;
  document.getElementById("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = input.value.trim();
    sessionStorage.setItem(KEY_STORE, state.key);
    start();
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    state.key = "";
    input.value = "";
    stopPolling();
    document.getElementById("whoami").textContent = "";
    say("Key forgotten.", false);
  });
  document.getElementById("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    state.filters = readFilters();
    state.page = 1;
    refreshFailed();
  });
  document.getElementById("prev-page").addEventListener("click", () => {
    if (state.page > 1) { state.page -= 1; refreshFailed(); }
  });
  document.getElementById("next-page").addEventListener("click", () => {
    state.page += 1;
    refreshFailed();
  });
  for (const button of document.querySelectorAll("#review-form button[data-action]")) {
    button.addEventListener("click", () => review(button.dataset.action));
  }
  start();
});
