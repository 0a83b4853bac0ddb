// The "Where does it land" page: pick a client and what happens, see where
// the reply lands, who receives it live, the deciding rule and why (the
// library's own sentences, from `?explain=true`); the outbound question the
// same way; any result saved as a scenario case.
//
// Every decision is the service's: this page only builds the request (the
// staff toggles travel as inline `facts.staff`) and lays out the answer.
// Client data is set as text only (see common.js).
import { api, h, fill, debounce, errorBox, ready, showVersion } from "/assets/common.js";

const $ = (id) => document.getElementById(id);

const state = {
  world: null, // GET /v1/world
  rules: new Map(), // "policy/id" -> {file, line}
  ruleSet: null,
  client: null, // a hit of /v1/clients
  staff: [], // this try's staff: [{id, name, locations, logged_in_at, communicator_access}]
  seq: 0, // the number of the latest change
  inboundBody: null, // the last inbound request sent
  outboundBody: null,
};

// ---------------------------------------------------------------------------
// Loading

async function loadRules() {
  const r = await api("/v1/rules");
  state.rules = new Map(r.rules.map((x) => [`${x.policy}/${x.id}`, x]));
  state.ruleSet = r.rule_set;
}

/// `id (file:line)` of a rule, as `route` prints the deciding rule.
function ruleAt(policy, id) {
  const r = state.rules.get(`${policy}/${id}`);
  return r ? `${id} (${r.file}:${r.line})` : id;
}

function locName(id) {
  const l = state.world.locations.find((x) => x.id === id);
  return l ? `${id} (${l.name})` : id;
}

function option(value, text, selected) {
  return h("option", { value, selected: selected || null }, text);
}

function cloneStaff() {
  return cloneStaffOf(state.world.staff);
}

/// Whether this try's staff differ from the world's (only then are they sent).
function staffChanged() {
  return JSON.stringify(state.staff) !== JSON.stringify(cloneStaff());
}

function cloneStaffOf(list) {
  return list.map((s) => ({
    id: s.id,
    name: s.name,
    locations: [...s.locations],
    logged_in_at: s.logged_in_at,
    communicator_access: [...s.communicator_access],
  }));
}

// ---------------------------------------------------------------------------
// The client combobox (ARIA combobox with a listbox popup)

const combo = {
  input: null,
  list: null,
  hits: [],
  active: -1,
  asked: 0,
  timer: null,
};

/// Searches for what the box holds, shortly after the last keystroke.
function searchSoon() {
  clearTimeout(combo.timer);
  combo.timer = setTimeout(() => runSearch(combo.input.value), 60);
}

/// Forgets any search still to come or under way (a pick or Escape).
function stopSearching() {
  clearTimeout(combo.timer);
  combo.asked++;
}

function setupCombo() {
  combo.input = $("client-input");
  combo.list = $("client-list");
  combo.input.addEventListener("input", searchSoon);
  combo.input.addEventListener("focus", () => {
    if (!combo.hits.length) runSearch(combo.input.value);
  });
  combo.input.addEventListener("keydown", (e) => {
    const open = !combo.list.hidden;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (!open) {
        runSearch(combo.input.value);
        return;
      }
      moveActive(combo.active + 1);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      if (open) moveActive(combo.active - 1);
    } else if (e.key === "Enter") {
      if (open && combo.active >= 0) {
        e.preventDefault();
        pick(combo.hits[combo.active]);
      }
    } else if (e.key === "Escape") {
      stopSearching();
      if (open) {
        e.preventDefault();
        closeList();
      } else if (state.client) {
        combo.input.value = state.client.name;
      }
    } else if (e.key === "Tab") {
      closeList();
    }
  });
  // Closes a moment after the focus leaves (so a click on an option still
  // lands), unless the box has the focus again by then: a list opened by a
  // search typed since must stay open.
  combo.input.addEventListener("blur", () =>
    setTimeout(() => {
      if (document.activeElement !== combo.input) closeList();
    }, 150),
  );
}

async function runSearch(q) {
  const n = ++combo.asked;
  try {
    const r = await api(`/v1/clients?q=${encodeURIComponent(q)}&limit=12`);
    // A later search, or a pick meanwhile, makes this answer stale.
    if (n !== combo.asked || document.activeElement !== combo.input) return;
    combo.hits = r.clients;
    showList(r);
  } catch (err) {
    if (n !== combo.asked) return;
    fill($("client-count"), errorBox(err));
  }
}

function showList(r) {
  const items = r.clients.map((c, i) =>
    h(
      "li",
      {
        id: `client-opt-${i}`,
        role: "option",
        "aria-selected": "false",
        "data-id": c.id,
        onmousedown: (e) => e.preventDefault(),
        onclick: () => pick(c),
      },
      h("span", { class: "opt-name" }, c.name),
      h("span", { class: "opt-meta" }, `${c.id} · ${c.locations.join(", ")}`),
    ),
  );
  fill(combo.list, ...items);
  combo.list.dataset.query = r.query;
  if (!items.length) fill(combo.list, h("li", { class: "empty", role: "option", "aria-disabled": "true" }, "No client matches"));
  fill(
    $("client-count"),
    r.total > r.clients.length ? `${r.clients.length} of ${r.total} matching clients shown` : `${r.total} matching`,
  );
  combo.list.hidden = false;
  combo.input.setAttribute("aria-expanded", "true");
  moveActive(r.clients.length ? 0 : -1);
}

function moveActive(i) {
  const n = combo.hits.length;
  if (!n) {
    combo.active = -1;
    combo.input.removeAttribute("aria-activedescendant");
    return;
  }
  combo.active = (i + n) % n;
  for (const [k, li] of [...combo.list.children].entries()) {
    const on = k === combo.active;
    li.setAttribute("aria-selected", on ? "true" : "false");
    li.classList.toggle("active", on);
    if (on) li.scrollIntoView({ block: "nearest" });
  }
  combo.input.setAttribute("aria-activedescendant", `client-opt-${combo.active}`);
}

function closeList() {
  combo.list.hidden = true;
  combo.input.setAttribute("aria-expanded", "false");
  combo.input.removeAttribute("aria-activedescendant");
}

function pick(c) {
  if (!c) return;
  stopSearching();
  state.client = c;
  combo.input.value = c.name;
  closeList();
  $("client-count").textContent = "";
  showClient(c);
  changed();
}

function yesNo(b) {
  return b ? "yes" : "no";
}

function showClient(c) {
  const card = $("client-card");
  const contact = (value, valid, optIn) =>
    value === null || value === undefined
      ? h("span", { class: "muted" }, "none")
      : [value, " ", h("span", { class: `pill ${valid ? "ok" : "bad"}` }, valid ? "valid" : "invalid"), h("span", { class: `pill ${optIn ? "ok" : "off"}` }, optIn ? "opted in" : "not opted in")];
  fill(
    card,
    h("div", { class: "who" }, h("strong", { id: "client-name" }, c.name), " ", h("code", {}, c.id)),
    h(
      "dl",
      {},
      h("dt", {}, "Account"),
      h("dd", {}, c.account),
      h("dt", {}, "Locations"),
      h("dd", {}, c.locations.map(locName).join(", ")),
      h("dt", {}, "Last appointment"),
      h("dd", {}, c.last_appointment_at ? locName(c.last_appointment_at) : "none"),
      h("dt", {}, "Guest app"),
      h("dd", {}, yesNo(c.guest_app)),
      h("dt", {}, "Phone"),
      h("dd", {}, contact(c.phone, c.phone_valid, c.sms_opt_in)),
      h("dt", {}, "Email"),
      h("dd", {}, contact(c.email, c.email_valid, c.email_opt_in)),
    ),
  );
  card.hidden = false;
}

// ---------------------------------------------------------------------------
// The form

function setupForm() {
  const w = state.world;
  fill($("kind"), ...w.kinds.map((k) => option(k, k, k === "confirmation")));
  fill($("answered-at"), ...w.locations.map((l) => option(l.id, `${l.id} · ${l.name}`)));
  fill($("starter"), ...w.staff.map((s) => option(s.id, `${s.name} (${s.id})`)));
  fillStartedFrom();
  fill($("from-account"), ...w.accounts.map((a) => option(a.id, `${a.name} (${a.id})`)));
  for (const r of document.querySelectorAll("input[name=what]")) r.addEventListener("change", onWhat);
  for (const id of ["kind", "answered-at", "started-from"]) $(id).addEventListener("change", changed);
  $("starter").addEventListener("change", () => {
    fillStartedFrom();
    changed();
  });
  $("from-account").addEventListener("change", changedOutbound);
  const typed = debounce(changedOutbound, 150);
  $("out-text").addEventListener("input", typed);
  $("staff-reset").addEventListener("click", () => {
    state.staff = cloneStaff();
    renderStaff();
    changed();
  });
  $("case-close").addEventListener("click", () => $("case-dialog").close());
  state.staff = cloneStaff();
  renderStaff();
}

function fillStartedFrom() {
  const s = state.world.staff.find((x) => x.id === $("starter").value);
  const locs = s ? s.locations : [];
  fill(
    $("started-from"),
    option("", "not said (their only location, or where they are logged in)"),
    ...locs.map((l) => option(l, locName(l))),
  );
}

function onWhat() {
  const what = document.querySelector("input[name=what]:checked").value;
  $("answering-fields").hidden = what !== "answering";
  $("staff-fields").hidden = what !== "staff";
  changed();
}

function renderStaff() {
  const w = state.world;
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Staff"),
    h("th", { scope: "col" }, "Logged in at"),
    h("th", { scope: "col" }, "Communicator access"),
  );
  const rows = state.staff.map((s, i) => {
    const login = h(
      "select",
      { id: `login-${i}`, "aria-label": `${s.name}: logged in at`, "data-staff": s.id, class: "login" },
      option("", "logged out", !s.logged_in_at),
      ...s.locations.map((l) => option(l, l, s.logged_in_at === l)),
    );
    login.addEventListener("change", () => {
      s.logged_in_at = login.value || null;
      changed();
    });
    const access = w.locations.map((l) => {
      const box = h("input", {
        type: "checkbox",
        id: `access-${i}-${l.id}`,
        "data-staff": s.id,
        "data-location": l.id,
        checked: s.communicator_access.includes(l.id) || null,
      });
      box.addEventListener("change", () => {
        s.communicator_access = w.locations
          .map((x) => x.id)
          .filter((id) => (id === l.id ? box.checked : s.communicator_access.includes(id)));
        changed();
      });
      return h("label", { class: "inline", for: `access-${i}-${l.id}` }, box, l.id, h("span", { class: "sr-only" }, ` (${s.name})`));
    });
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, s.name, h("div", { class: "muted mono" }, `${s.id} · ${s.locations.join(", ")}`)),
      h("td", {}, login),
      h("td", {}, h("div", { class: "checks" }, access)),
    );
  });
  const table = $("staff-table");
  const caption = table.querySelector("caption");
  fill(table, caption, h("thead", {}, head), h("tbody", {}, rows));
}

// ---------------------------------------------------------------------------
// Asking and showing

function inboundBody() {
  const c = state.client;
  const what = document.querySelector("input[name=what]:checked").value;
  const body = { client: c.id };
  if (what === "answering") body.answering = `${$("kind").value}@${$("answered-at").value}`;
  if (what === "staff") {
    body.staff = $("starter").value;
    if ($("started-from").value) body.from = $("started-from").value;
  }
  if (staffChanged()) body.facts = { staff: state.staff };
  return body;
}

function outboundBody() {
  return { client: state.client.id, from_account: $("from-account").value, text: $("out-text").value };
}

let inboundAsk = null;
let outboundAsk = null;

/// Something of the question changed: decide again (both questions share the client).
function changed() {
  $("staff-changed").hidden = !staffChanged();
  if (!state.client) return;
  const seq = ++state.seq;
  performance.mark("land-change", { detail: seq });
  decideInbound(seq);
  decideOutbound();
}

function changedOutbound() {
  if (!state.client) return;
  decideOutbound();
}

async function decideInbound(seq) {
  if (inboundAsk) inboundAsk.abort();
  const ask = (inboundAsk = new AbortController());
  const body = inboundBody();
  const out = $("inbound-answer");
  try {
    const d = await api("/v1/inbound?explain=true", { body, signal: ask.signal });
    if (d.rule_set !== state.ruleSet) await loadRules();
    state.inboundBody = body;
    renderInbound(out, d);
  } catch (err) {
    if (err.name === "AbortError") return;
    state.inboundBody = null;
    fill(out, errorBox(err));
  }
  out.dataset.seq = String(seq);
  performance.mark("land-shown", { detail: seq });
}

async function decideOutbound() {
  if (outboundAsk) outboundAsk.abort();
  const ask = (outboundAsk = new AbortController());
  const body = outboundBody();
  const out = $("outbound-answer");
  try {
    const d = await api("/v1/outbound?explain=true", { body, signal: ask.signal });
    if (d.rule_set !== state.ruleSet) await loadRules();
    state.outboundBody = body;
    renderOutbound(out, d);
  } catch (err) {
    if (err.name === "AbortError") return;
    state.outboundBody = null;
    fill(out, errorBox(err));
  }
}

function staffLine(id) {
  const s = state.staff.find((x) => x.id === id);
  if (!s) return h("li", {}, id);
  return h(
    "li",
    { "data-staff": id },
    h("strong", {}, s.name),
    " ",
    h("code", {}, id),
    h("span", { class: "muted" }, s.logged_in_at ? ` · logged in at ${locName(s.logged_in_at)}` : ""),
  );
}

function explanation(sections) {
  return h(
    "details",
    { class: "explain", open: true },
    h("summary", {}, "Why"),
    sections.map((s) =>
      h(
        "section",
        { class: "explain-policy", "data-policy": s.policy },
        h("h3", {}, s.heading),
        h(
          "ol",
          {},
          s.lines.map((l) =>
            h(
              "li",
              { class: l.applied ? "applied" : "not-applied" },
              h("span", { class: "mark", "aria-hidden": "true" }, l.applied ? "✓" : "✗"),
              h("span", { class: "sentence" }, l.text),
            ),
          ),
        ),
      ),
    ),
  );
}

function renderInbound(out, d) {
  const lands = d.lands_at.length
    ? d.lands_at.map((l) => h("span", { class: "pill big" }, locName(l)))
    : h("span", { class: "pill bad" }, "nowhere");
  const live = d.delivered_to.length
    ? h("ul", { class: "people", id: "delivered" }, d.delivered_to.map(staffLine))
    : h(
        "p",
        { id: "delivered", class: "muted" },
        `Nobody live: it waits in the inbox at ${d.lands_at.map(locName).join(", ")}.`,
      );
  fill(
    out,
    h(
      "dl",
      { class: "result" },
      h("dt", {}, "Lands at"),
      h("dd", { id: "lands-at" }, lands),
      h("dt", {}, "Received live by"),
      h("dd", {}, live),
      h("dt", {}, "Deciding rule"),
      h("dd", { id: "inbound-rule" }, h("code", {}, ruleAt("inbound", d.rule))),
    ),
    caseButton("inbound"),
    explanation(d.explanation),
  );
}

function renderOutbound(out, d) {
  const refused = d.channel === "none";
  fill(
    out,
    h(
      "dl",
      { class: "result" },
      h("dt", {}, "Channel"),
      h("dd", { id: "channel" }, h("span", { class: `pill big ${refused ? "bad" : "ok"}` }, d.channel)),
      h("dt", {}, "Ghost text"),
      h("dd", { id: "ghost-text" }, d.ghost_text || h("span", { class: "muted" }, "none")),
      h("dt", {}, "Text sent"),
      h("dd", { id: "text-sent" }, refused ? h("span", { class: "muted" }, "nothing: sending is refused") : d.text),
      h("dt", {}, "Deciding rule"),
      h(
        "dd",
        { id: "outbound-rule" },
        h("code", {}, ruleAt("outbound", d.rule)),
        " + text ",
        h("code", {}, ruleAt("text", d.text_rule)),
      ),
    ),
    caseButton("outbound"),
    explanation(d.explanation),
  );
}

// ---------------------------------------------------------------------------
// Saving a result as a scenario case

function caseButton(direction) {
  return h(
    "p",
    { class: "actions" },
    h("button", { type: "button", class: "secondary", id: `${direction}-case`, onclick: () => openCase(direction) }, "Save as scenario case"),
  );
}

async function openCase(direction, name, save) {
  const event = direction === "inbound" ? state.inboundBody : state.outboundBody;
  const body = { [direction]: event };
  if (name) body.name = name;
  if (save) body.save = true;
  const dialog = $("case-dialog");
  const box = $("case-body");
  if (!dialog.open) dialog.showModal();
  try {
    const c = await api("/v1/case", { body });
    const nameInput = h("input", { id: "case-name", type: "text", value: c.name });
    const yaml = h("textarea", { id: "case-yaml", readonly: true, rows: 8, spellcheck: "false" }, c.yaml);
    const blob = new Blob([c.scenario], { type: "application/yaml" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "playground.yaml", class: "button secondary" }, "Download as a scenario file");
    const copy = h("button", { type: "button", class: "secondary" }, "Copy the case");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(c.yaml);
        copy.textContent = "Copied";
      } catch {
        yaml.select();
      }
    });
    const rename = h("button", { type: "button", class: "secondary" }, "Rename");
    rename.addEventListener("click", () => openCase(direction, nameInput.value));
    const parts = [
      h("label", { for: "case-name" }, "Case name"),
      h("div", { class: "inline-form" }, nameInput, rename),
      h("label", { for: "case-yaml" }, "The case, as `route --save-case` appends it under `cases:`"),
      yaml,
      h("p", { class: "actions" }, copy, " ", link),
    ];
    if (c.saved) {
      parts.unshift(h("div", { class: "banner ok", role: "status" }, `Saved at ${c.saved.file}:${c.saved.line}`));
    } else if (state.world.can_save_cases) {
      const saveBtn = h("button", { type: "button", id: "case-save" }, "Append to the scenarios' playground.yaml");
      saveBtn.addEventListener("click", () => openCase(direction, nameInput.value, true));
      parts.push(h("p", { class: "actions" }, saveBtn));
    } else {
      parts.push(h("p", { class: "hint muted" }, "This service was started without --allow-edit: copy or download the case."));
    }
    fill(box, ...parts);
  } catch (err) {
    fill(box, errorBox(err));
  }
}

// ---------------------------------------------------------------------------

async function main() {
  showVersion();
  try {
    const [world] = await Promise.all([api("/v1/world"), loadRules()]);
    state.world = world;
    setupForm();
    setupCombo();
    $("client-input").placeholder = `Type to search ${world.clients.toLocaleString("en-US")} clients`;
  } catch (err) {
    fill($("app"), errorBox(err));
  }
  ready();
}

main();
