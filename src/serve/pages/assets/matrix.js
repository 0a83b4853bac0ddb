// The "Decision matrix" page: `commroute analyze` as a table (GET
// /v1/analyze), filterable by policy, deciding rule, outcome and text, with
// shadowed rules and gaps listed and highlighted. Every sentence is the
// library's; this page lays them out and filters rows.
import { api, h, fill, debounce, errorBox, ready, showVersion } from "/assets/common.js";

const $ = (id) => document.getElementById(id);
const state = { a: null, rules: new Map(), shadowed: new Set() };

function options(select, label, values) {
  fill(select, h("option", { value: "" }, label), ...values.map((v) => h("option", { value: v }, v)));
}

function ruleAt(policy, id) {
  const r = state.rules.get(`${policy}/${id}`);
  return r ? `${r.file}:${r.line}` : "";
}

function setup() {
  const a = state.a;
  const uniq = (xs) => [...new Set(xs)].sort();
  options($("f-policy"), "every policy", uniq(a.classes.map((r) => r.policy)));
  const deciding = uniq(a.classes.flatMap((r) => (r.text_rule ? [r.rule, r.text_rule] : [r.rule])));
  fill(
    $("f-rule"),
    h("option", { value: "" }, "every rule"),
    ...deciding.map((v) => h("option", { value: v }, v)),
    ...a.shadowed.map((s) => h("option", { value: s.rule, class: "shadowed" }, `${s.rule} (shadowed: decides no class)`)),
  );
  options($("f-outcome"), "every outcome", uniq(a.classes.map((r) => r.outcome)));
  for (const id of ["f-policy", "f-rule", "f-outcome"]) $(id).addEventListener("change", render);
  $("f-text").addEventListener("input", debounce(render, 80));
  // Filters from the address (`/matrix?rule=ID&outcome=...`), for links.
  const q = new URLSearchParams(location.search);
  for (const [k, id] of [["policy", "f-policy"], ["rule", "f-rule"], ["outcome", "f-outcome"], ["q", "f-text"]]) {
    if (q.has(k)) $(id).value = q.get(k);
  }
}

function findings() {
  const a = state.a;
  fill(
    $("summary"),
    `${a.summary.classes} classes of input, `,
    h("strong", { class: a.summary.shadowed ? "warn-text" : "" }, `${a.summary.shadowed} shadowed rules`),
    ", ",
    h("strong", { class: a.summary.gaps ? "warn-text" : "" }, `${a.summary.gaps} gaps`),
    ".",
  );
  const items = [
    ...a.shadowed.map((s) => h("li", { class: "shadowed" }, h("span", { class: "pill warn" }, "shadowed"), ` ${s.policy} rule ${s.reason}`)),
    ...a.gaps.map((g) =>
      h(
        "li",
        { class: "gap" },
        h("span", { class: "pill bad" }, "gap"),
        ` ${g.class}: ${g.reason} (for example: ${g.example}) `,
        h("button", { type: "button", class: "link", onclick: () => showClass(g.class) }, "Show in the matrix"),
      ),
    ),
    ...a.redundant.map((r) => h("li", { class: "note" }, h("span", { class: "pill" }, "note"), ` ${r.policy} rule ${r.reason}`)),
  ];
  if (!items.length) items.push(h("li", { class: "note" }, "No shadowed rule and no gap."));
  fill($("findings"), ...items);
}

/// Who receives it live: the recipient classes a grant admits, folded.
function liveCell(r) {
  const live = r.received_live_by || [];
  if (r.policy !== "inbound") return "";
  if (!live.length) return "nobody live";
  return h(
    "details",
    {},
    h("summary", {}, `${live.length} kinds of staff`),
    h("ul", {}, live.map((x) => h("li", {}, x))),
  );
}

/// Filters the matrix to one class (a gap's) and brings it into view.
function showClass(description) {
  for (const id of ["f-policy", "f-rule", "f-outcome"]) $(id).value = "";
  $("f-text").value = description;
  render();
  $("matrix-title").scrollIntoView();
}

function render() {
  const a = state.a;
  const policy = $("f-policy").value;
  const rule = $("f-rule").value;
  const outcome = $("f-outcome").value;
  const text = $("f-text").value.trim().toLowerCase();
  const rows = a.classes.filter(
    (r) =>
      (!policy || r.policy === policy) &&
      (!rule || r.rule === rule || r.text_rule === rule) &&
      (!outcome || r.outcome === outcome) &&
      (!text || r.description.toLowerCase().includes(text) || r.example.toLowerCase().includes(text)),
  );
  const head = h(
    "tr",
    {},
    ...["#", "Policy", "Outcome", "Deciding rule", "Received live by", "Example", "Class"].map((t) => h("th", { scope: "col" }, t)),
  );
  const body = rows.map((r) => {
    const shadow = state.shadowed.has(`${r.policy}/${r.rule}`) || (r.text_rule && state.shadowed.has(`text/${r.text_rule}`));
    return h(
      "tr",
      { class: r.gap ? "gap" : shadow ? "shadow" : null, "data-n": r.n },
      h("td", { class: "num" }, r.n),
      h("td", { class: "policy" }, r.policy),
      h("td", { class: "outcome" }, r.outcome, r.gap ? h("div", { class: "pill bad" }, `gap: ${r.gap}`) : null),
      h(
        "td",
        { class: "rule" },
        h("code", {}, r.rule),
        h("div", { class: "muted mono" }, ruleAt(r.policy, r.rule)),
        r.text_rule ? [h("div", {}, "+ ", h("code", {}, r.text_rule))] : null,
        r.partial && r.partial.length ? h("div", { class: "pill warn" }, `evaluated on the witness: ${r.partial.join(", ")}`) : null,
      ),
      h("td", { class: "live-cell" }, liveCell(r)),
      h("td", {}, r.example),
      h("td", {}, r.description),
    );
  });
  const table = $("matrix");
  fill(table, table.querySelector("caption"), h("thead", {}, head), h("tbody", {}, body));
  fill($("shown"), `${rows.length} of ${a.classes.length} classes shown`);
}

async function main() {
  showVersion();
  try {
    const [a, rules] = await Promise.all([api("/v1/analyze"), api("/v1/rules")]);
    state.a = a;
    state.rules = new Map(rules.rules.map((x) => [`${x.policy}/${x.id}`, x]));
    state.shadowed = new Set(a.shadowed.map((s) => `${s.policy}/${s.rule}`));
    setup();
    findings();
    render();
  } catch (err) {
    fill($("app"), errorBox(err));
  }
  ready();
}

main();
