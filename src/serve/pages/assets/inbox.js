// The "Inbox" page: a location's conversations as the conversation store
// (`--db`) holds them, and one conversation opened, updated live from the
// service's event stream (GET /v1/inbox/events).
//
// Every text here (ids, message texts, notices) comes from the store, which
// a timeline wrote: it is hostile and is only ever set as text (`h()`).
//
// The stream is read with fetch() rather than EventSource, so that it can
// carry the bearer token of a service started with --token-file.
import { api, h, fill, errorBox, ready, showVersion } from "/assets/common.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const state = {
  location: params.get("location") || null,
  view: params.get("view") === "all" ? "all" : "store",
  client: params.get("client") || null,
  locations: [],
  storeState: null,
};

// What the list and the conversation last showed: a refresh that finds the
// same data leaves the page alone (no flicker, no lost hover or focus).
let shownList = "";
let shownConv = "";

// --- the page's parts ------------------------------------------------------

const liveEl = h("span", { id: "inbox-live", class: "live connecting", role: "status" }, "Connecting…");
const select = h("select", { id: "inbox-location", onchange: () => choose(select.value) });
const viewStore = h("input", { type: "radio", name: "inbox-view", id: "inbox-view-store", value: "store" });
const viewAll = h("input", { type: "radio", name: "inbox-view", id: "inbox-view-all", value: "all" });
for (const r of [viewStore, viewAll]) {
  r.addEventListener("change", () => {
    if (r.checked) setView(r.value);
  });
}
const listEl = h("div", { id: "inbox-list", class: "inbox-list" });
const convEl = h("section", { id: "inbox-conversation", class: "panel inbox-conv", "aria-live": "polite", tabindex: "-1" });
const noticeEl = h("div", { id: "inbox-notice" });

fill(
  app,
  noticeEl,
  h(
    "div",
    { class: "inbox-bar panel" },
    h("div", { class: "inbox-pick" }, h("label", { for: "inbox-location" }, "Location"), select),
    h(
      "fieldset",
      { class: "inbox-view" },
      h("legend", {}, "Show"),
      h("label", { class: "inline", for: "inbox-view-store" }, viewStore, "Store screen (10 most recent)"),
      h("label", { class: "inline", for: "inbox-view-all" }, viewAll, "Full list"),
    ),
    liveEl,
  ),
  h(
    "div",
    { class: "grid inbox-grid" },
    h("section", { class: "panel", "aria-labelledby": "inbox-list-title" }, h("h2", { id: "inbox-list-title" }, "Conversations"), listEl),
    convEl,
  ),
);
viewStore.checked = state.view === "store";
viewAll.checked = state.view === "all";
convMessage(h("p", { class: "muted" }, "Open a conversation to see its messages."));

function remember() {
  const p = new URLSearchParams();
  if (state.location) p.set("location", state.location);
  if (state.view !== "store") p.set("view", state.view);
  if (state.client) p.set("client", state.client);
  const q = p.toString();
  history.replaceState(null, "", q ? `?${q}` : location.pathname);
}

function choose(loc) {
  if (loc === state.location) return;
  state.location = loc;
  state.client = null;
  convMessage(h("p", { class: "muted" }, "Open a conversation to see its messages."));
  remember();
  refresh();
}

function setView(v) {
  state.view = v;
  remember();
  refresh();
}

// --- drawing ----------------------------------------------------------------

let shownLocs = "";
function drawLocations() {
  const key = `${JSON.stringify(state.locations)}|${state.location}`;
  if (key === shownLocs) return;
  shownLocs = key;
  const opts = state.locations.map((l) => {
    const name = l.name ? `${l.id} · ${l.name}` : l.id;
    const unread = l.unread ? ` · ${l.unread} unread` : "";
    return h("option", { value: l.id }, `${name} (${l.conversations} conv.${unread})`);
  });
  fill(select, ...opts);
  select.disabled = opts.length === 0;
  if (state.location) select.value = state.location;
}

// "6 Mar 09:30" (UTC, as the timeline gives it); the full time in the title.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function when(at) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(at || "");
  const shown = m ? `${Number(m[3])} ${MONTHS[Number(m[2]) - 1] || m[2]} ${m[4]}:${m[5]}` : at;
  return h("time", { class: "muted", datetime: at, title: at }, shown);
}

const arrow = (dir) => (dir === "inbound" ? "←" : "→");
const statusClass = (s) => (s === "failed" ? "bad" : s === "delivered" ? "ok" : s === "sent" ? "warn" : "");

function drawList(data) {
  const key = `${JSON.stringify(data)}|${state.client}`;
  if (key === shownList) return;
  shownList = key;
  const items = data.conversations.map((c) =>
    h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: "inbox-item",
          "aria-current": c.client === state.client ? "true" : null,
          dataset: { client: c.client },
          onclick: () => openConversation(c.client, true),
        },
        h(
          "span",
          { class: "inbox-item-top" },
          h("strong", { class: "inbox-client" }, c.client),
          " ",
          c.unread ? h("span", { class: "badge", "aria-label": `${c.unread} unread` }, String(c.unread)) : null,
          when(c.last_at),
        ),
        h(
          "span",
          { class: "inbox-item-last" },
          h("span", { class: "muted", "aria-hidden": "true" }, `${arrow(c.direction)} `),
          h("span", { class: "inbox-last-text" }, c.last_message),
        ),
        h(
          "span",
          { class: "inbox-item-meta" },
          h("span", { class: "pill" }, c.channel),
          " ",
          h("span", { class: `pill ${statusClass(c.status)}` }, c.status),
        ),
      ),
    ),
  );
  // A live update redraws the list: keep the keyboard where it was.
  const focused = listEl.contains(document.activeElement) ? document.activeElement.dataset.client : null;
  fill(
    listEl,
    h("ul", { class: "inbox-items" }, ...items),
    h("p", { id: "inbox-summary", class: "muted inbox-summary" }, data.summary),
  );
  if (focused) {
    for (const b of listEl.querySelectorAll("button.inbox-item")) {
      if (b.dataset.client === focused) b.focus();
    }
  }
}

function listMessage(...children) {
  shownList = "";
  fill(listEl, h("p", { class: "muted" }, ...children));
}

function convMessage(...children) {
  shownConv = "";
  fill(convEl, ...children);
}

function drawConversation(c) {
  const key = JSON.stringify(c);
  if (key === shownConv) return;
  shownConv = key;
  const unread = Object.entries(c.unread)
    .map(([loc, n]) => `${loc}: ${n}`)
    .join(", ");
  const messages = c.messages.map((m) => {
    const inbound = m.direction === "inbound";
    const where = inbound
      ? [`landed at ${m.locations.join(", ")}`, m.live_to && m.live_to.length ? ` · live: ${m.live_to.join(", ")}` : ""].join("")
      : `sent from ${m.locations.join(", ")}`;
    // One attempt is what the message's head says; more are listed.
    const attempts =
      m.attempts && m.attempts.length > 1
        ? h(
            "ol",
            { class: "inbox-attempts", "aria-label": "Delivery attempts", title: "Delivery attempts" },
            ...m.attempts.map((a) =>
              h(
                "li",
                {},
                h("span", { class: "pill" }, a.channel),
                " ",
                h("span", { class: `pill ${statusClass(a.status)}` }, a.status),
                " ",
                when(a.at),
                a.text !== m.text ? h("div", { class: "inbox-attempt-text" }, a.text) : null,
              ),
            ),
          )
        : null;
    const notices = (m.notices || []).map((n) =>
      h(
        "div",
        { class: "inbox-notice", role: "note" },
        h("strong", {}, n.text),
        " · ",
        when(n.at),
        h("div", { class: "inbox-cue" }, h("span", { class: "inbox-cue-icon", "aria-hidden": "true" }, "♪"), " ", n.cue),
      ),
    );
    return h(
      "li",
      { class: `inbox-msg ${inbound ? "in" : "out"}`, dataset: { event: m.event } },
      h(
        "div",
        { class: "inbox-msg-head" },
        h("span", { class: "inbox-dir", "aria-label": inbound ? "from the client" : "from staff" }, arrow(m.direction)),
        " ",
        h("strong", {}, m.sender),
        " ",
        h("span", { class: "pill" }, m.channel),
        " ",
        h("span", { class: `pill ${statusClass(m.status)}` }, m.status),
        " ",
        when(m.at),
      ),
      h("div", { class: "inbox-text" }, m.text),
      ...(m.attachments || []).map((p) => h("div", { class: "muted" }, `[photo ${p}]`)),
      h("div", { class: "muted inbox-where" }, where),
      attempts,
      ...notices,
    );
  });
  fill(
    convEl,
    h("h2", { id: "inbox-conv-title" }, `Conversation with ${c.client}`),
    h(
      "dl",
      { class: "inbox-facts" },
      h("dt", {}, "Started by"),
      h("dd", {}, c.started),
      h("dt", {}, "Unread"),
      h("dd", {}, unread || "none"),
    ),
    h("ol", { class: "inbox-messages", "aria-labelledby": "inbox-conv-title" }, ...messages),
  );
}

// --- loading ------------------------------------------------------------------

async function openConversation(client, focus) {
  state.client = client;
  remember();
  for (const b of listEl.querySelectorAll("button.inbox-item")) {
    if (b.dataset.client === client) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
  await loadConversation();
  if (focus) convEl.focus();
}

async function loadConversation() {
  if (!state.client) return;
  try {
    const c = await api(`/v1/inbox/conversation?client=${encodeURIComponent(state.client)}`);
    drawConversation(c);
  } catch (e) {
    convMessage(errorBox(e));
  }
}

async function load() {
  const locs = await api("/v1/inbox/locations");
  state.locations = locs.locations;
  state.storeState = locs.store;
  if (!state.locations.some((l) => l.id === state.location)) {
    if (state.location && state.locations.length) state.client = null;
    state.location = state.locations.length ? state.locations[0].id : state.location;
  }
  drawLocations();
  if (!state.locations.length) {
    listMessage(
      locs.store === "empty"
        ? "The store holds no conversations yet. This page shows them as soon as a replay writes them (commroute simulate --db …)."
        : "No location has a conversation yet.",
    );
    return;
  }
  const list = await api(
    `/v1/inbox/conversations?location=${encodeURIComponent(state.location)}&view=${state.view}`,
  );
  drawList(list);
  await loadConversation();
}

// One load at a time; a change during a load loads again after it.
let loading = null;
let again = false;
async function refresh() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        await load();
        fill(noticeEl);
      } catch (e) {
        fill(noticeEl, errorBox(e));
      }
    } while (again);
    loading = null;
    document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
  })();
  return loading;
}

// --- the event stream ---------------------------------------------------------

function setLive(kind, text) {
  liveEl.className = `live ${kind}`;
  liveEl.textContent = text;
  document.body.dataset.stream = kind;
}

let retry = 0;
async function stream() {
  for (;;) {
    try {
      const resp = await api("/v1/inbox/events", { raw: true });
      if (!resp.ok) {
        const body = await resp.json().catch(() => null);
        const err = body && body.error ? body.error : {};
        // No store (--db) is final: say so and stop.
        if (resp.status === 404 || resp.status === 401) {
          setLive("off", resp.status === 404 ? "No live updates" : "Needs the token");
          return;
        }
        throw new Error(err.message || `the service answered ${resp.status}`);
      }
      await readEvents(resp.body);
    } catch (e) {
      // Fall through to reconnect.
    }
    retry = Math.min(retry + 1, 5);
    const wait = retry * 1000;
    setLive("down", `Disconnected · reconnecting in ${retry} s`);
    await new Promise((r) => setTimeout(r, wait));
    setLive("connecting", "Reconnecting…");
  }
}

async function readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end;
    while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end).replace(/^\r?\n\r?\n/, "");
      let name = "message";
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
      }
      if (block.split(/\r?\n/).every((l) => l.startsWith(":"))) continue; // a keep-alive comment
      if (name === "open") {
        retry = 0;
        setLive("up", "Live");
        // Anything written while disconnected is shown now.
        refresh();
      } else if (name === "change") {
        performance.mark("inbox-change");
        refresh();
      }
    }
  }
}

// --- start ----------------------------------------------------------------------

showVersion();
refresh().finally(() => {
  ready();
  stream();
});
