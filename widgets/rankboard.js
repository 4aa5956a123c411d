// labkit rank board (anywidget): the backlog as a ranked list with rank violations highlighted,
// each issue's blockers marked (red when ranked below it), the planned moves previewed (the dry
// run), Apply / Undo buttons and drag-to-rank. Python does the work; the browser sends messages:
// {action: "apply" | "undo" | "refresh"} and {action: "rank", issues: [key], before | after: key}.

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function button(label, cls, onClick) {
  const b = h("button", `lk-rb-btn ${cls}`, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function render({ model, el }) {
  const root = h("div", "lk-rankboard");
  el.appendChild(root);
  let dragged = null;

  function send(msg) {
    model.send(msg);
  }

  function header() {
    const rows = model.get("rows"), total = model.get("total");
    const viol = model.get("violations"), moves = model.get("moves"), calls = model.get("calls");
    const busy = model.get("busy");
    const bar = h("div", "lk-rb-bar");
    const stats = h("div", "lk-rb-stats");
    stats.append(
      h("span", "lk-rb-stat", `${total} issues`),
      h("span", `lk-rb-stat lk-rb-stat-viol ${viol.length ? "lk-rb-bad" : "lk-rb-good"}`,
        `${viol.length} violation${viol.length === 1 ? "" : "s"}`),
      h("span", "lk-rb-stat", `${moves.length} move${moves.length === 1 ? "" : "s"} in ${calls.length} rank call${calls.length === 1 ? "" : "s"}`),
    );
    if (rows.length < total) stats.append(h("span", "lk-rb-stat", `showing the top ${rows.length}`));
    const apply = button("Apply", "labkit-rank-apply lk-rb-apply", () => send({ action: "apply" }));
    apply.disabled = busy || moves.length === 0;
    apply.title = moves.length ? `send ${calls.length} rank call(s); an undo journal is written first` : "nothing to apply";
    const undo = button("Undo", "labkit-rank-undo", () => send({ action: "undo" }));
    undo.disabled = busy || !model.get("can_undo");
    const refresh = button("Refresh", "labkit-rank-refresh", () => send({ action: "refresh" }));
    refresh.disabled = busy;
    bar.append(stats, apply, undo, refresh);
    return bar;
  }

  function issueList() {
    const list = h("ol", "lk-rb-list");
    for (const r of model.get("rows")) {
      const li = h("li", "lk-rb-item");
      li.dataset.key = r.key;
      li.draggable = true;
      if (r.violated) li.classList.add("lk-rb-violation");
      if (r.cycle) li.classList.add("lk-rb-cycle");
      if (r.move) li.classList.add(`lk-rb-moving`, `lk-rb-move-${r.move.direction}`);
      li.append(h("span", "lk-rb-pos", r.pos), h("span", "lk-rb-key", r.key), h("span", "lk-rb-summary", r.summary));
      if (r.blockers.length) {
        const bl = h("span", "lk-rb-blockers");
        bl.append(h("span", "lk-rb-label", "blocked by"));
        for (const b of r.blockers) {
          const chip = h("span", `lk-rb-blocker ${b.below ? "lk-rb-blocker-late" : ""}`,
            b.pos ? `${b.key} #${b.pos}` : `${b.key} (not in backlog)`);
          chip.title = b.below ? `${b.key} blocks ${r.key} but ranks below it` : `${b.key} blocks ${r.key}`;
          bl.append(chip);
        }
        li.append(bl);
      }
      if (r.cycle) li.append(h("span", "lk-rb-badge lk-rb-badge-cycle", "cycle"));
      if (r.move) {
        const arrow = r.move.direction === "up" ? "↑" : r.move.direction === "down" ? "↓" : "↔";
        const mv = h("span", "lk-rb-badge lk-rb-badge-move", `${arrow} to #${r.move.to}`);
        mv.title = `${r.move.blocker} must rank above ${r.move.blocked}`;
        li.append(mv);
      }
      li.addEventListener("dragstart", (ev) => {
        dragged = r.key;
        li.classList.add("lk-rb-dragging");
        ev.dataTransfer.effectAllowed = "move";
        ev.dataTransfer.setData("text/plain", r.key);
      });
      li.addEventListener("dragend", () => {
        li.classList.remove("lk-rb-dragging");
        dragged = null;
      });
      li.addEventListener("dragover", (ev) => {
        if (!dragged || dragged === r.key) return;
        ev.preventDefault();
        const box = li.getBoundingClientRect();
        const upper = ev.clientY < box.top + box.height / 2;
        li.classList.toggle("lk-rb-drop-before", upper);
        li.classList.toggle("lk-rb-drop-after", !upper);
      });
      li.addEventListener("dragleave", () => li.classList.remove("lk-rb-drop-before", "lk-rb-drop-after"));
      li.addEventListener("drop", (ev) => {
        ev.preventDefault();
        const key = dragged || ev.dataTransfer.getData("text/plain");
        const before = li.classList.contains("lk-rb-drop-before");
        li.classList.remove("lk-rb-drop-before", "lk-rb-drop-after");
        if (!key || key === r.key) return;
        send(before ? { action: "rank", issues: [key], before: r.key } : { action: "rank", issues: [key], after: r.key });
      });
      list.append(li);
    }
    return list;
  }

  function violationList() {
    const box = h("div", "lk-rb-section");
    const viol = model.get("violations");
    box.append(h("h4", "", `Violations (${viol.length})`));
    const ul = h("ul", "lk-rb-violations");
    for (const v of viol.slice(0, 500)) {
      ul.append(h("li", "lk-rb-vrow", `${v.issue} #${v.position} ranks above ${v.blocker} #${v.blocker_position}` +
        (v.direct ? "" : " (blocks it through other issues)")));
    }
    if (!viol.length) ul.append(h("li", "lk-rb-empty", "none: every blocker ranks above what it blocks"));
    box.append(ul);
    const cycles = model.get("cycles");
    if (cycles.length) {
      box.append(h("h4", "", `Blocking cycles (${cycles.length}): cannot be satisfied, not re-ranked`));
      const cl = h("ul", "lk-rb-cycles");
      for (const c of cycles) cl.append(h("li", "", c.name));
      box.append(cl);
    }
    return box;
  }

  function plan() {
    const box = h("div", "lk-rb-section");
    const moves = model.get("moves"), calls = model.get("calls");
    box.append(h("h4", "", `Planned moves (dry run): ${moves.length}`));
    const t = h("table", "lk-rb-moves");
    const head = h("tr");
    for (const c of ["issue", "from", "to", "", "because"]) head.append(h("th", "", c));
    t.append(head);
    for (const m of moves.slice(0, 500)) {
      const tr = h("tr");
      const arrow = m.direction === "up" ? "↑" : m.direction === "down" ? "↓" : "↔";
      tr.append(h("td", "", m.issue), h("td", "", m.from_pos), h("td", "", m.to_pos), h("td", "", arrow),
        h("td", "", `${m.blocker} blocks ${m.blocked}`));
      t.append(tr);
    }
    box.append(t);
    if (calls.length) {
      const ol = h("ol", "lk-rb-calls");
      for (const c of calls.slice(0, 200)) ol.append(h("li", "", c));
      box.append(h("h5", "", "Rank calls Apply will send"), ol);
    }
    return box;
  }

  function draw() {
    root.replaceChildren();
    root.append(header());
    const msg = model.get("message");
    if (msg) root.append(h("div", `lk-rb-message ${model.get("error") ? "lk-rb-error" : ""}`, msg));
    const body = h("div", "lk-rb-body");
    const left = h("div", "lk-rb-left");
    left.append(issueList());
    const right = h("div", "lk-rb-right");
    right.append(violationList(), plan());
    body.append(left, right);
    root.append(body);
    root.classList.toggle("lk-rb-busy", model.get("busy"));
  }

  for (const name of ["rows", "violations", "moves", "calls", "cycles", "message", "error", "busy", "can_undo", "total"]) {
    model.on(`change:${name}`, draw);
  }
  draw();
}

export default { render };
