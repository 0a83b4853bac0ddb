// The "Rules" page: the three rules files in an editor with line numbers,
// every change checked as you type by the service (POST /v1/rules/check:
// the problems in the words of `commroute check`, or, when the edit is
// valid, its impact: failing scenario cases, changed classes of the
// decision matrix, recorded decisions touched), and saving (with
// --allow-edit) or downloading the edited files.
//
// The editor is a plain <textarea> with a line-number gutter kept in step
// with its scrolling. A code-editor library would add syntax colouring,
// but also a build step and some hundred kilobytes to the binary; the
// textarea keeps the browser's own undo, selection, search, spell-check
// off, accessibility and keyboard behaviour (Tab leaves the field, as a
// keyboard user expects), and the YAML is short.
//
// Nothing here decides, validates or explains: every word shown about the
// rules comes from the service. Texts are set as text, never as markup.

import { api, h, fill, ready, showVersion } from "/assets/common.js";

const FILES = ["inbound.yaml", "delivery.yaml", "outbound.yaml"];
const CHECK_DELAY_MS = 150;

const state = {
  current: "inbound.yaml",
  original: {}, // name -> text as served
  texts: {}, // name -> text in the editor
  paths: {}, // name -> path as the service names it
  ruleSet: null, // the rule set the edit started from
  allowEdit: false,
  saveRefused: null,
  lastCheck: null, // the last answer of /v1/rules/check
  diagnostics: [], // of the last check
  inflight: null, // AbortController of the check in flight
  seq: 0, // edits so far
  lastInputAt: 0,
};

const $ = (id) => document.getElementById(id);
const ta = $("source");
const gutterLines = $("gutter-lines");
const bands = $("bands");

/// The message of an API error (the service's JSON error, when it sent one).
function problemOf(err) {
  const b = err && err.body;
  if (b && typeof b.message === "string") {
    return { message: b.message, valid: b.valid || null, field: b.field || null };
  }
  return { message: (err && err.message) || String(err), valid: null, field: null };
}

function banner(kind, ...children) {
  fill($("banner"), h("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children));
}

function apiErrorBanner(what, err) {
  const p = problemOf(err);
  banner(
    "error",
    h("strong", {}, `${what}: `),
    p.field ? `${p.field}: ` : "",
    p.message,
    p.valid ? h("div", { class: "hint" }, `Valid: ${p.valid}`) : null,
  );
}

/// The files whose text differs from what was served.
function edited() {
  return FILES.filter((f) => state.texts[f] !== state.original[f]);
}

// ---- the editor ----

function lineHeight() {
  const lh = parseFloat(getComputedStyle(ta).lineHeight);
  return Number.isFinite(lh) ? lh : 20;
}

function padTop() {
  return parseFloat(getComputedStyle(ta).paddingTop) || 0;
}

/// The lines of the current file that have a problem.
function badLines() {
  const lines = new Map();
  for (const d of state.diagnostics) {
    if (d.name === state.current && d.line) {
      if (!lines.has(d.line)) lines.set(d.line, []);
      lines.get(d.line).push(d);
    }
  }
  return lines;
}

/// Renders the line numbers (with a marker on each line that has a
/// problem) and the highlight bands behind those lines.
function renderGutter() {
  const count = ta.value.split("\n").length;
  const bad = badLines();
  const rows = [];
  for (let n = 1; n <= count; n++) {
    const problems = bad.get(n);
    rows.push(
      h(
        "div",
        {
          class: problems ? "ln bad" : "ln",
          dataset: { line: String(n) },
          title: problems ? problems.map((d) => d.message).join("\n") : null,
        },
        problems ? h("span", { class: "marker" }, "●") : null,
        String(n),
      ),
    );
  }
  fill(gutterLines, rows);
  const lh = lineHeight();
  const top = padTop();
  const bandEls = [];
  for (const line of bad.keys()) {
    if (line > count) continue;
    const band = h("div", { class: "band", dataset: { line: String(line) } });
    // Positions are set through the CSSOM (the page's CSP forbids style attributes).
    band.style.top = `${top + (line - 1) * lh}px`;
    band.style.height = `${lh}px`;
    bandEls.push(band);
  }
  fill(bands, bandEls);
  syncScroll();
}

/// Keeps the gutter and the bands in step with the textarea's scrolling.
function syncScroll() {
  gutterLines.style.transform = `translateY(${-ta.scrollTop}px)`;
  bands.style.transform = `translateY(${-ta.scrollTop}px)`;
}

function renderTabs() {
  const tabs = FILES.map((f) => {
    const dirty = state.texts[f] !== state.original[f];
    const problems = state.diagnostics.filter((d) => d.name === f).length;
    return h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${f.replace(".yaml", "")}`,
        class: "tab",
        "aria-selected": f === state.current ? "true" : "false",
        "aria-controls": "editor",
        dataset: { file: f },
        onclick: () => switchTo(f),
        onkeydown: (e) => {
          // The tab pattern: arrows move between the files.
          const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
          if (!step) return;
          e.preventDefault();
          const next = FILES[(FILES.indexOf(f) + step + FILES.length) % FILES.length];
          switchTo(next);
          document.querySelector(`button.tab[data-file="${next}"]`).focus();
        },
      },
      f,
      dirty ? h("span", { class: "dirty", title: "edited" }, " •") : null,
      problems ? h("span", { class: "count bad" }, String(problems)) : null,
    );
  });
  fill($("tabs"), tabs);
  $("file-path").textContent = state.paths[state.current] || "";
}

function switchTo(file) {
  if (file === state.current) return;
  state.texts[state.current] = ta.value;
  state.current = file;
  ta.value = state.texts[file];
  ta.scrollTop = 0;
  renderTabs();
  renderGutter();
}

/// Puts the caret at `line`:`column` (both from 1) of `file` and scrolls it into view.
function goTo(file, line, column) {
  if (file && file !== state.current) switchTo(file);
  const lines = ta.value.split("\n");
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
  const here = lines[Math.min(line, lines.length) - 1] || "";
  offset += Math.min(Math.max(column - 1, 0), here.length);
  ta.focus();
  ta.setSelectionRange(offset, offset);
  const lh = lineHeight();
  const want = (line - 1) * lh;
  if (want < ta.scrollTop || want > ta.scrollTop + ta.clientHeight - 2 * lh) {
    ta.scrollTop = Math.max(0, want - ta.clientHeight / 3);
  }
  syncScroll();
}

// ---- checking ----

function setCheckState(kind, label) {
  const el = $("check-state");
  el.className = `pill ${kind}`;
  el.textContent = label;
}

function onInput() {
  state.texts[state.current] = ta.value;
  state.seq += 1;
  state.lastInputAt = performance.now();
  renderGutter();
  renderTabs();
  updateButtons();
  setCheckState("", "checking…");
  scheduleCheck();
}

let timer = null;
function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(runCheck, CHECK_DELAY_MS);
}

async function runCheck() {
  if (state.inflight) state.inflight.abort();
  const ctl = new AbortController();
  state.inflight = ctl;
  const seq = state.seq;
  const startedAt = state.lastInputAt;
  const files = {};
  for (const f of edited()) files[f] = state.texts[f];
  let answer;
  try {
    answer = await api("/v1/rules/check", { body: { files }, signal: ctl.signal });
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (seq !== state.seq) return;
    setCheckState("bad", "not checked");
    apiErrorBanner("The edit could not be checked", err);
    return;
  } finally {
    if (state.inflight === ctl) state.inflight = null;
  }
  // A newer edit is on its way: this answer is stale.
  if (seq !== state.seq) return;
  fill($("banner"));
  state.lastCheck = answer;
  state.diagnostics = answer.diagnostics || [];
  renderProblems(answer);
  renderImpact(answer);
  renderTabs();
  renderGutter();
  updateButtons();
  // From the last keystroke to the answer on screen (the next frame).
  requestAnimationFrame(() => {
    const end = performance.now();
    performance.measure("commroute-edit", { start: startedAt, end });
    document.body.dataset.checked = String(seq);
    document.body.dataset.serverMs = answer.impact ? String(answer.impact.timings_ms.total) : "";
  });
}

function renderProblems(answer) {
  const el = $("problems");
  if (answer.valid) {
    setCheckState("ok", edited().length ? "valid edit" : "no edits");
    fill(el, h("p", { class: "banner ok", id: "no-problems" }, "No problems: the edited rules load."));
    return;
  }
  const n = answer.diagnostics.length;
  setCheckState("bad", n === 1 ? "1 problem" : `${n} problems`);
  const items = answer.diagnostics.map((d) => {
    const where = d.line ? `${d.name || d.file}:${d.line}:${d.column}` : d.name || d.file;
    return h(
      "li",
      { class: "diag", dataset: { file: d.name || "", line: String(d.line || ""), column: String(d.column || "") } },
      h(
        "button",
        {
          type: "button",
          class: "goto secondary",
          "aria-label": `Go to ${where}: ${d.message}`,
          onclick: () => (d.name && d.line ? goTo(d.name, d.line, d.column) : d.name && switchTo(d.name)),
        },
        where,
      ),
      h("pre", { class: "diag-text" }, d.text),
    );
  });
  fill(
    el,
    h("ul", { class: "diags", id: "diagnostics" }, items),
    h("p", { class: "muted diag-count", id: "diag-count" }, n === 1 ? "1 problem found" : `${n} problems found`),
  );
}

/// `old → new`, or the value alone when it did not change.
function oldNew(a, b) {
  if (a === b) return h("span", {}, a, h("span", { class: "muted" }, " (unchanged)"));
  return h("span", {}, h("del", {}, a), h("span", { class: "arrow" }, " → "), h("ins", {}, b));
}

function renderImpact(answer) {
  const el = $("impact");
  if (!answer.valid) {
    fill(el, h("p", { class: "muted" }, "Fix the problems above to see what the edit changes."));
    return;
  }
  const i = answer.impact;
  if (!edited().length) {
    fill(el, h("p", { class: "muted" }, "No edits: these are the rules serving."));
    return;
  }
  const parts = [];
  const s = i.scenarios;
  const newlyFailing = s ? s.failing.filter((c) => !c.failing_before) : [];
  const m = i.matrix;
  const r = i.recorded;
  const nothing = (!s || newlyFailing.length === 0) && m.changes.length === 0 && (!r || r.changed === 0);
  parts.push(
    h(
      "p",
      { class: nothing ? "banner ok" : "banner warn", id: "impact-summary" },
      nothing
        ? "This edit changes nothing: no scenario case fails and no class of the decision matrix is decided differently."
        : summary(newlyFailing.length, m.changes, r),
    ),
  );

  // Scenario cases.
  const sc = h("section", { class: "impact-part", id: "impact-cases", "aria-labelledby": "cases-title" });
  if (!s) {
    fill(sc, h("h3", { id: "cases-title" }, "Scenario cases"), h("p", { class: "muted" }, "No scenario files: start the service with --scenarios DIR to run them."));
  } else {
    const title = `Scenario cases that would fail: ${s.failing.length} of ${s.cases}`;
    const cases = s.failing.map((c) =>
      h(
        "li",
        { class: c.failing_before ? "case before" : "case", dataset: { file: c.file, line: String(c.line) } },
        h(
          "div",
          { class: "case-head" },
          h("strong", { class: "case-name" }, c.name),
          c.failing_before ? h("span", { class: "pill warn" }, "already failing") : h("span", { class: "pill bad" }, "newly failing"),
        ),
        h("div", { class: "muted mono case-file" }, `${c.file}:${c.line}`),
        c.mismatches.length
          ? h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                { class: "mismatches" },
                h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "field"), h("th", { scope: "col" }, "expected"), h("th", { scope: "col" }, "actual"))),
                h(
                  "tbody",
                  {},
                  c.mismatches.map((mm) => h("tr", {}, h("td", { class: "mono" }, mm.field), h("td", { class: "mono expected" }, mm.expected), h("td", { class: "mono actual" }, mm.actual))),
                ),
              ),
            )
          : null,
        c.error ? h("p", { class: "banner error" }, c.error) : null,
        h("details", {}, h("summary", {}, "Why (as commroute test prints it)"), h("pre", { class: "why" }, c.text)),
      ),
    );
    fill(
      sc,
      h("h3", { id: "cases-title" }, title),
      s.failing.length ? h("ul", { class: "cases" }, cases) : h("p", { class: "muted" }, `All ${s.cases} cases still pass.`),
      s.failing_before ? h("p", { class: "muted" }, `${s.failing_before} failing already with the rules serving.`) : null,
      s.broken.length ? h("p", { class: "muted" }, `${s.broken.length} scenario file problems: those files are not run.`) : null,
    );
  }
  parts.push(sc);

  // The decision matrix.
  // Cards rather than a table: the side panel is narrow, the classes' descriptions long.
  const withEvents = !!r;
  const cards = m.changes.map((c) =>
    h(
      "li",
      { class: "class-change" },
      h("div", { class: "class-input" }, h("span", { class: "pill" }, c.policy), " ", c.input),
      h(
        "dl",
        {},
        h("dt", {}, "outcome"),
        h("dd", {}, oldNew(c.old_outcome, c.new_outcome)),
        c.old_live !== undefined ? [h("dt", {}, "live"), h("dd", {}, oldNew(c.old_live, c.new_live))] : null,
        h("dt", {}, "rule"),
        h("dd", { class: "mono" }, oldNew(c.old_rule, c.new_rule)),
        h("dt", {}, "witness"),
        h("dd", { class: "witness" }, c.example),
        withEvents ? [h("dt", {}, "recorded"), h("dd", { class: "recorded" }, c.events === c.events_of_class ? `${c.events} decisions` : `${c.events} of ${c.events_of_class} decisions of this class`)] : null,
      ),
    ),
  );
  parts.push(
    h(
      "section",
      { class: "impact-part", id: "impact-classes", "aria-labelledby": "classes-title" },
      h("h3", { id: "classes-title" }, `Decision matrix: ${m.changes.length} of ${m.classes} classes decided differently`),
      m.changes.length ? h("ul", { class: "class-changes" }, cards) : h("p", { class: "muted" }, "Every class is decided as before."),
    ),
  );

  // Recorded decisions.
  parts.push(
    h(
      "section",
      { class: "impact-part", id: "impact-recorded", "aria-labelledby": "recorded-title" },
      h("h3", { id: "recorded-title" }, "Recorded decisions"),
      r
        ? h(
            "p",
            { id: "recorded-summary" },
            `${r.changed} of ${r.events} recorded decisions ${r.windowed ? "(the most recent of the decision log) " : ""}would be decided differently.`,
            r.skipped ? h("span", { class: "muted" }, ` ${r.skipped} log lines of another world were left out.`) : null,
          )
        : h("p", { class: "muted" }, "No decision log: start the service with --decision-log FILE to count the recorded decisions each change touches."),
      r && r.unexplained.length
        ? h(
            "ul",
            { class: "events" },
            r.unexplained.map((c) => h("li", {}, c.input, ": ", oldNew(c.old_outcome, c.new_outcome))),
          )
        : null,
    ),
  );
  const t = i.timings_ms;
  parts.push(h("p", { class: "muted timing" }, `Measured on the service in ${Math.round(t.total)} ms.`));
  fill(el, parts);
}

function summary(cases, classes, recorded) {
  const bits = [];
  if (cases) bits.push(`${cases} scenario case${cases === 1 ? "" : "s"} would now fail`);
  const moved = classes.filter((c) => c.old_outcome !== c.new_outcome).length;
  if (moved) bits.push(`${moved} class${moved === 1 ? "" : "es"} of input would be decided elsewhere`);
  const ruleOnly = classes.length - moved;
  if (ruleOnly) bits.push(`${ruleOnly} would be decided by another rule`);
  if (recorded && recorded.changed) bits.push(`${recorded.changed} recorded decision${recorded.changed === 1 ? "" : "s"} would change`);
  return `${bits.join("; ")}.`;
}

// ---- saving and downloading ----

function updateButtons() {
  const dirty = edited();
  const valid = state.lastCheck && state.lastCheck.valid && state.seq > 0;
  const save = $("save");
  save.disabled = !(state.allowEdit && !state.saveRefused && dirty.length && valid);
  $("revert").disabled = dirty.length === 0;
  $("download").textContent = dirty.length > 1 ? `Download ${dirty.length} edited files` : `Download ${dirty[0] || state.current}`;
  const note = $("save-note");
  if (state.saveRefused) {
    note.textContent = state.saveRefused;
  } else if (dirty.length && !valid) {
    note.textContent = "Saving needs an edit without problems.";
  } else {
    note.textContent = dirty.length ? `Edited: ${dirty.join(", ")}` : "";
  }
}

function download() {
  const names = edited().length ? edited() : [state.current];
  for (const name of names) {
    const blob = new Blob([state.texts[name]], { type: "application/yaml" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: name, class: "sr-only" }, name);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  $("save-note").textContent = `Offered for download: ${names.join(", ")}`;
  document.body.dataset.downloaded = names.join(",");
}

async function save() {
  const files = {};
  const names = edited();
  for (const f of names) files[f] = state.texts[f];
  $("save").disabled = true;
  $("save-note").textContent = "Saving…";
  try {
    const reloadsBefore = reloadCount(await showVersion());
    const answer = await api("/v1/rules/files", { method: "PUT", body: { files, base_rule_set: state.ruleSet } });
    for (const f of names) state.original[f] = state.texts[f];
    const written = answer.written.length ? answer.written.join(", ") : "nothing (no file changed)";
    if (answer.result === "running") {
      // Written, but the reload outlasted the request: the rule set
      // serving is still the one before until it ends.
      banner(
        "ok",
        h("strong", {}, "Saved. "),
        `Wrote ${written}; the reload is still running, so rule set `,
        h("code", { id: "saved-rule-set" }, answer.rule_set),
        " serves until it ends.",
      );
      followReload(reloadsBefore, written);
    } else {
      serving(written, answer.rule_set);
    }
    showVersion();
    state.lastCheck = null;
    state.diagnostics = [];
    renderTabs();
    renderGutter();
    setCheckState("ok", "saved");
    fill($("problems"), h("p", { class: "muted" }, "No edits: the files as served."));
    fill($("impact"), h("p", { class: "muted" }, "Saved: these are the rules serving now."));
  } catch (err) {
    const body = err && err.body;
    if (body && body.type === "rules_save" && body.diagnostics) {
      state.diagnostics = body.diagnostics;
      renderProblems({ valid: false, diagnostics: body.diagnostics });
      renderGutter();
      banner("error", h("strong", {}, "Not saved: "), "the edited rules have problems; nothing was written.");
    } else {
      apiErrorBanner("Not saved", err);
    }
  } finally {
    updateButtons();
    $("save-note").textContent = $("save-note").textContent === "Saving…" ? "" : $("save-note").textContent;
  }
}

/// Says the saved rules serve, as rule set `ruleSet`.
function serving(written, ruleSet) {
  state.ruleSet = ruleSet;
  banner("ok", h("strong", {}, "Saved. "), `Wrote ${written}; now serving rule set `, h("code", { id: "saved-rule-set" }, ruleSet), ".");
}

/// The number of reloads finished, from a `/v1/status` answer.
function reloadCount(status) {
  const r = status && status.reloads;
  return r ? r.applied + r.unchanged + r.refused : null;
}

/// After a save answered `running`: asks `/v1/status` until a reload
/// after the save has ended (it read the saved files), then says how.
async function followReload(before, written) {
  if (before === null) return;
  const until = Date.now() + 120000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const s = await showVersion();
    if (reloadCount(s) === null || reloadCount(s) <= before) continue;
    const last = s.last_reload;
    if (last && last.result === "refused") {
      banner(
        "error",
        h("strong", {}, "Saved, but not serving: "),
        `wrote ${written}; the reload refused the rules, and rule set `,
        h("code", { id: "saved-rule-set" }, s.rule_set),
        " still serves. ",
        ...last.diagnostics.slice(0, 3).map((d) => h("div", { class: "hint" }, `${d.file}:${d.line}:${d.column}: ${d.message}`)),
      );
    } else {
      serving(written, s.rule_set);
    }
    return;
  }
}

function revert() {
  for (const f of FILES) state.texts[f] = state.original[f];
  ta.value = state.texts[state.current];
  state.diagnostics = [];
  state.lastCheck = null;
  renderTabs();
  renderGutter();
  updateButtons();
  setCheckState("", "");
  fill($("problems"), h("p", { class: "muted" }, "Reverted to the files as served."));
  fill($("impact"));
}

// ---- start ----

async function start() {
  showVersion();
  let files;
  try {
    files = await api("/v1/rules/files");
  } catch (err) {
    apiErrorBanner("The rules files could not be read", err);
    ready();
    return;
  }
  for (const f of files.files) {
    state.original[f.name] = f.text;
    state.texts[f.name] = f.text;
    state.paths[f.name] = f.path;
  }
  state.ruleSet = files.rule_set;
  state.allowEdit = files.allow_edit;
  state.saveRefused = files.save_refused || null;
  if (!files.serving) {
    banner("warn", "The files on disk differ from the rules serving (an edit not reloaded yet, or refused by the last reload): you are editing the files on disk.");
  }
  $("save").hidden = !files.allow_edit;
  ta.value = state.texts[state.current];
  ta.addEventListener("input", onInput);
  ta.addEventListener("scroll", syncScroll);
  $("save").addEventListener("click", save);
  $("download").addEventListener("click", download);
  $("revert").addEventListener("click", revert);
  renderTabs();
  renderGutter();
  updateButtons();
  ready();
}

start();
