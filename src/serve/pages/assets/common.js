// What every page shares: calling the service's API, building elements
// (text is always set as text, never parsed as markup), small helpers.
//
// Client data is hostile: names, ids and message texts come from outside.
// Nothing here or in the pages uses innerHTML, outerHTML,
// insertAdjacentHTML or document.write; `h()` below turns every string
// child into a text node.

const TOKEN_KEY = "commroute-token";

/// An error answer of the service. Its body is the service's error object,
/// flat: `{"type":"error","error":KIND,"field":..,"message":..,"valid":..}`.
export class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.type === "error" ? body : {};
    super(typeof err.message === "string" ? err.message : `the service answered ${status}`);
    this.status = status;
    this.kind = typeof err.error === "string" ? err.error : "unknown";
    this.field = err.field || null;
    this.valid = err.valid || null;
    this.body = body;
  }
}

/// Calls the API: `api("/v1/inbound", { body: {...} })` posts JSON,
/// `api("/v1/rules")` gets. Resolves to the parsed JSON answer; rejects
/// with an ApiError. Carries the token saved in this tab, if any, and asks
/// for one when the service answers 401.
export async function api(path, { method, body, signal, raw } = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["authorization"] = `Bearer ${token}`;
  const init = { method: method || (body === undefined ? "GET" : "POST"), headers, signal };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) {
    askForToken();
  }
  if (raw) return resp;
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

/// Shows the token form (once) when the service needs a token.
function askForToken() {
  if (document.getElementById("token-form")) return;
  const input = h("input", { id: "token-input", type: "password", autocomplete: "off" });
  const form = h(
    "form",
    { id: "token-form", class: "banner warn" },
    h("label", { for: "token-input" }, "This service needs its bearer token (from its --token-file):"),
    input,
    h("button", { type: "submit" }, "Use token"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    location.reload();
  });
  document.querySelector("main").prepend(form);
  input.focus();
}

/// Builds an element: `h("p", { class: "x" }, "text", child)`. Attributes
/// whose name starts with `on` take functions (event listeners); `null`,
/// `undefined` and `false` attributes and children are left out; strings
/// and numbers become text nodes.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

/// Replaces every child of `el` with `children`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/// `fn`, called `ms` after the last of a burst of calls.
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/// An error box for an ApiError (or any error), naming the field at fault.
export function errorBox(err) {
  return h(
    "div",
    { class: "banner error", role: "alert" },
    h("strong", {}, err.field ? `${err.field}: ` : ""),
    err.message || String(err),
    err.valid ? h("div", { class: "hint" }, `Valid: ${err.valid}`) : null,
  );
}

/// Marks the page as ready for use (browser tests and timing wait for it).
export function ready() {
  document.body.dataset.ready = "true";
  if (performance && performance.mark) performance.mark("commroute-ready");
}

/// Shows the rule set's version in the header (and returns the status).
export async function showVersion() {
  const el = document.getElementById("version");
  try {
    const s = await api("/v1/status");
    if (el) el.textContent = `rules ${s.rule_set} · world ${s.world_version}`;
    return s;
  } catch (e) {
    if (el) el.textContent = "";
    return null;
  }
}
