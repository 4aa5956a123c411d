// labkit diff view (anywidget): per-commit navigation, file list, unified and side-by-side diffs
// with add/remove colouring, changed-word marks and light syntax highlighting; or, in "range" kind,
// a range-diff of two revisions: one row per commit pair and the diff of the selected pair's patches.
// Model state: kind ("series" | "range"), commits (list), ranges (list), labels ([old, new]),
// index (int), mode ("unified" | "split"), file (int, -1 = all files).

const KEYWORDS = new Set(("def class return if elif else for while in not and or import from as with try " +
  "except finally raise yield lambda None True False pass break continue function const let var new " +
  "public private protected static final void int long boolean this null true false package interface " +
  "extends implements throws switch case default struct typedef unsigned char float double sizeof").split(" "));
const TOKEN = /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|#.*$|\/\/.*$|\/\*.*?\*\/|\b\d+(?:\.\d+)?\b|[A-Za-z_][A-Za-z0-9_]*)/g;

function esc(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function highlight(text) {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const tok = m[0];
    out += esc(text.slice(last, m.index));
    let cls = null;
    if (tok[0] === '"' || tok[0] === "'") cls = "str";
    else if (tok[0] === "#" || tok.startsWith("//") || tok.startsWith("/*")) cls = "com";
    else if (/^\d/.test(tok)) cls = "num";
    else if (KEYWORDS.has(tok)) cls = "kw";
    out += cls ? `<span class="lk-dv-${cls}">${esc(tok)}</span>` : esc(tok);
    last = m.index + tok.length;
  }
  return out + esc(text.slice(last));
}

// Mark the part of `a` that differs from `b` (common prefix and suffix stay plain).
function markChange(a, b) {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const mid = a.slice(p, a.length - s);
  if (!mid || (p === 0 && s === 0)) return highlight(a);
  return highlight(a.slice(0, p)) + `<span class="lk-dv-chg">${esc(mid)}</span>` + highlight(a.slice(a.length - s));
}

// Parse one file's diff text into hunks of typed lines with old/new numbers.
function parseDiff(diff) {
  const rows = [];
  let o = 0, n = 0, inHunk = false;
  const lines = diff.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop(); // the text ends with a newline
  for (const line of lines) {
    const m = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (m) {
      o = +m[1]; n = +m[2]; inHunk = true;
      rows.push({ t: "hunk", text: line });
      continue;
    }
    if (!inHunk) continue;
    const c = line[0];
    if (c === "+") rows.push({ t: "add", n: n++, text: line.slice(1) });
    else if (c === "-") rows.push({ t: "del", o: o++, text: line.slice(1) });
    else if (c === " " || line === "") rows.push({ t: "ctx", o: o++, n: n++, text: line.slice(1) });
    else if (c === "\\") rows.push({ t: "note", text: line });
    else inHunk = false;
  }
  return rows;
}

// Group consecutive del/add runs so the split view can pair them line by line.
function pairRows(rows) {
  const out = [];
  let i = 0;
  while (i < rows.length) {
    const r = rows[i];
    if (r.t === "del" || r.t === "add") {
      const dels = [], adds = [];
      while (i < rows.length && rows[i].t === "del") dels.push(rows[i++]);
      while (i < rows.length && rows[i].t === "add") adds.push(rows[i++]);
      const len = Math.max(dels.length, adds.length);
      for (let k = 0; k < len; k++) out.push({ t: "pair", l: dels[k] || null, r: adds[k] || null });
    } else {
      out.push(r);
      i++;
    }
  }
  return out;
}

function unifiedTable(rows) {
  const pairs = pairRows(rows);
  // each run of changes shows its deletions, then its additions, with changed words marked
  let html = '<table class="lk-dv-table lk-dv-unified">';
  let i = 0;
  while (i < pairs.length) {
    const p = pairs[i];
    if (p.t !== "pair") {
      if (p.t === "ctx") html += `<tr class="lk-dv-ctx"><td class="lk-dv-no">${p.o}</td><td class="lk-dv-no">${p.n}</td><td class="lk-dv-code"> ${highlight(p.text)}</td></tr>`;
      else html += `<tr class="lk-dv-${p.t}"><td class="lk-dv-no"></td><td class="lk-dv-no"></td><td class="lk-dv-code">${esc(p.text)}</td></tr>`;
      i++;
      continue;
    }
    const run = [];
    while (i < pairs.length && pairs[i].t === "pair") run.push(pairs[i++]);
    for (const q of run) if (q.l) html += `<tr class="lk-dv-del"><td class="lk-dv-no">${q.l.o}</td><td class="lk-dv-no"></td><td class="lk-dv-code">-${q.r ? markChange(q.l.text, q.r.text) : highlight(q.l.text)}</td></tr>`;
    for (const q of run) if (q.r) html += `<tr class="lk-dv-add"><td class="lk-dv-no"></td><td class="lk-dv-no">${q.r.n}</td><td class="lk-dv-code">+${q.l ? markChange(q.r.text, q.l.text) : highlight(q.r.text)}</td></tr>`;
  }
  return html + "</table>";
}

function splitTable(rows) {
  let html = '<table class="lk-dv-table lk-dv-split"><colgroup><col class="lk-dv-nocol"><col><col class="lk-dv-nocol"><col></colgroup>';
  for (const p of pairRows(rows)) {
    if (p.t === "hunk" || p.t === "note") {
      html += `<tr class="lk-dv-${p.t}"><td colspan="4" class="lk-dv-code">${esc(p.text)}</td></tr>`;
    } else if (p.t === "ctx") {
      const code = highlight(p.text);
      html += `<tr class="lk-dv-ctx"><td class="lk-dv-no">${p.o}</td><td class="lk-dv-code">${code}</td><td class="lk-dv-no">${p.n}</td><td class="lk-dv-code">${code}</td></tr>`;
    } else {
      const left = p.l ? `<td class="lk-dv-no lk-dv-del">${p.l.o}</td><td class="lk-dv-code lk-dv-del">${p.r ? markChange(p.l.text, p.r.text) : highlight(p.l.text)}</td>`
        : '<td class="lk-dv-no lk-dv-empty"></td><td class="lk-dv-code lk-dv-empty"></td>';
      const right = p.r ? `<td class="lk-dv-no lk-dv-add">${p.r.n}</td><td class="lk-dv-code lk-dv-add">${p.l ? markChange(p.r.text, p.l.text) : highlight(p.r.text)}</td>`
        : '<td class="lk-dv-no lk-dv-empty"></td><td class="lk-dv-code lk-dv-empty"></td>';
      html += `<tr class="lk-dv-pair">${left}${right}</tr>`;
    }
  }
  return html + "</table>";
}

function fileTitle(f) {
  const name = f.old_path && f.old_path !== f.path ? `${esc(f.old_path)} → ${esc(f.path)}` : esc(f.path);
  const mode = f.old_mode && f.new_mode && f.old_mode !== f.new_mode ? ` <span class="lk-dv-mode">${f.old_mode} → ${f.new_mode}</span>` : "";
  return `<span class="lk-dv-status lk-dv-st-${f.status}">${f.status}</span> ${name}${mode}` +
    ` <span class="lk-dv-counts"><span class="lk-dv-plus">+${f.added}</span> <span class="lk-dv-minus">-${f.removed}</span></span>`;
}

const RANGE_TITLES = { unchanged: "unchanged", changed: "changed", added: "added", dropped: "dropped" };

// The diff of two patches: each line has an outer mark (what changed between the revisions) and
// keeps its inner one (what the patch itself does).
function interdiffTable(diff) {
  let html = '<table class="lk-dv-table lk-dv-interdiff">';
  const lines = (diff || "").split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) {
    if (line.startsWith("@@")) {
      html += `<tr class="lk-dv-hunk"><td class="lk-dv-code" colspan="2">${esc(line)}</td></tr>`;
      continue;
    }
    const outer = line[0] || " ";
    const inner = line.slice(1);
    const cls = outer === "+" ? "lk-dv-add" : outer === "-" ? "lk-dv-del" : "lk-dv-ctx";
    const innerCls = inner[0] === "+" ? " lk-dv-inner-add" : inner[0] === "-" ? " lk-dv-inner-del" : "";
    html += `<tr class="${cls}"><td class="lk-dv-no">${esc(outer)}</td><td class="lk-dv-code${innerCls}">${esc(inner)}</td></tr>`;
  }
  return html + "</table>";
}

function drawRange(model, el) {
  const rows = model.get("ranges") || [];
  const labels = model.get("labels") || ["old", "new"];
  const index = Math.min(Math.max(model.get("index"), 0), Math.max(rows.length - 1, 0));
  el.innerHTML = "";
  const bar = document.createElement("div");
  bar.className = "lk-dv-bar";
  const counts = {};
  for (const r of rows) counts[r.status] = (counts[r.status] || 0) + 1;
  const title = document.createElement("span");
  title.className = "lk-dv-title lk-dv-range-title";
  title.innerHTML = `<b>${esc(labels[0])}</b> → <b>${esc(labels[1])}</b>: ` +
    Object.keys(RANGE_TITLES).filter((k) => counts[k]).map((k) => `<span class="lk-dv-rs lk-dv-rs-${k}">${counts[k]} ${k}</span>`).join(" ");
  bar.appendChild(title);
  el.appendChild(bar);
  const body = document.createElement("div");
  body.className = "lk-dv-body";
  const list = document.createElement("ul");
  list.className = "lk-dv-files lk-dv-ranges";
  rows.forEach((r, i) => {
    const li = document.createElement("li");
    li.className = `lk-dv-range lk-dv-range-${r.status}` + (i === index ? " lk-dv-sel" : "");
    li.innerHTML = `<span class="lk-dv-mark">${esc(r.old == null ? "-" : String(r.old))} ${esc(r.marker)} ${esc(r.new == null ? "-" : String(r.new))}</span> ${esc(r.subject)}`;
    li.title = RANGE_TITLES[r.status] + (r.old_subject && r.old_subject !== r.subject ? ` (was: ${r.old_subject})` : "");
    li.addEventListener("click", () => { model.set("index", i); model.save_changes(); });
    list.appendChild(li);
  });
  body.appendChild(list);
  const pane = document.createElement("div");
  pane.className = "lk-dv-pane";
  const r = rows[index];
  if (!r) pane.innerHTML = '<div class="lk-dv-binary">no commits</div>';
  else if (r.status === "unchanged") pane.innerHTML = '<div class="lk-dv-binary">the same patch in both revisions</div>';
  else if (r.status === "added") pane.innerHTML = `<div class="lk-dv-binary">new in ${esc(labels[1])}</div>`;
  else if (r.status === "dropped") pane.innerHTML = `<div class="lk-dv-binary">dropped from ${esc(labels[0])}</div>`;
  else pane.innerHTML = interdiffTable(r.diff);
  body.appendChild(pane);
  el.appendChild(body);
}

function render({ model, el }) {
  el.classList.add("lk-dv");
  const draw = () => {
    if (model.get("kind") === "range") return drawRange(model, el);
    const commits = model.get("commits") || [];
    const mode = model.get("mode");
    let index = Math.min(Math.max(model.get("index"), 0), Math.max(commits.length - 1, 0));
    const c = commits[index];
    el.innerHTML = "";
    const bar = document.createElement("div");
    bar.className = "lk-dv-bar";
    const button = (label, cls, onClick, disabled) => {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = `lk-dv-btn ${cls}`;
      b.disabled = !!disabled;
      b.addEventListener("click", onClick);
      bar.appendChild(b);
      return b;
    };
    button("◀ Prev", "lk-dv-prev", () => { model.set("index", index - 1); model.set("file", -1); model.save_changes(); }, index <= 0);
    const title = document.createElement("span");
    title.className = "lk-dv-title";
    title.innerHTML = c ? `<b>${index + 1}/${commits.length}</b> ${esc(c.subject)} <span class="lk-dv-author">${esc(c.author)} &lt;${esc(c.email)}&gt;</span>` : "no commits";
    bar.appendChild(title);
    button("Next ▶", "lk-dv-next", () => { model.set("index", index + 1); model.set("file", -1); model.save_changes(); }, index >= commits.length - 1);
    button("Unified", "lk-dv-mode-unified" + (mode === "unified" ? " lk-dv-on" : ""), () => { model.set("mode", "unified"); model.save_changes(); });
    button("Side by side", "lk-dv-mode-split" + (mode === "split" ? " lk-dv-on" : ""), () => { model.set("mode", "split"); model.save_changes(); });
    el.appendChild(bar);
    if (!c) return;
    if (c.checks && c.checks.length) {
      const checks = document.createElement("div");
      checks.className = "lk-dv-checks";
      checks.innerHTML = c.checks.map((k) => `<span class="lk-dv-check lk-dv-${k.status}" title="${esc(k.detail)}">${esc(k.check)}: ${k.status}</span>`).join(" ");
      el.appendChild(checks);
    }
    const body = document.createElement("div");
    body.className = "lk-dv-body";
    const list = document.createElement("ul");
    list.className = "lk-dv-files";
    const selected = model.get("file");
    const all = document.createElement("li");
    all.innerHTML = `<b>All files</b> (${c.files.length})`;
    all.className = selected < 0 ? "lk-dv-sel" : "";
    all.addEventListener("click", () => { model.set("file", -1); model.save_changes(); });
    list.appendChild(all);
    c.files.forEach((f, i) => {
      const li = document.createElement("li");
      li.innerHTML = fileTitle(f);
      li.className = "lk-dv-file" + (selected === i ? " lk-dv-sel" : "");
      li.addEventListener("click", () => { model.set("file", i); model.save_changes(); });
      list.appendChild(li);
    });
    body.appendChild(list);
    const pane = document.createElement("div");
    pane.className = "lk-dv-pane";
    const shown = selected >= 0 && selected < c.files.length ? [c.files[selected]] : c.files;
    let html = "";
    if (c.message) html += `<pre class="lk-dv-message">${esc(c.message)}</pre>`;
    for (const f of shown) {
      html += `<div class="lk-dv-filehead">${fileTitle(f)}</div>`;
      if (f.binary) html += '<div class="lk-dv-binary">binary file: not shown</div>';
      else {
        const rows = parseDiff(f.diff || "");
        html += rows.length ? (mode === "split" ? splitTable(rows) : unifiedTable(rows)) : '<div class="lk-dv-binary">no content change</div>';
        if (f.truncated) html += '<div class="lk-dv-binary">diff truncated</div>';
      }
    }
    pane.innerHTML = html;
    body.appendChild(pane);
    el.appendChild(body);
  };
  model.on("change:kind", draw);
  model.on("change:ranges", draw);
  model.on("change:commits", draw);
  model.on("change:index", draw);
  model.on("change:mode", draw);
  model.on("change:file", draw);
  draw();
}

export default { render };
