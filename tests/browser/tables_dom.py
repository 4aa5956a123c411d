"""Check in the browser that tables read well: no cut text in long-text columns, no NaN/NaT/None words.

    from tests.browser.tables_dom import table_problems, assert_tables_readable
    assert_tables_readable(page)                       # every table on the page
    table_problems(page, ".labkit-status")             # or those inside one element

A long-text column is one whose header has a word of :data:`labkit.tables.TEXT_WORDS` (fix, advice,
detail, command, message, hint, reason): the same rule the tables module uses, passed in, not copied.
A cell of such a column is cut when it shows an ellipsis (its text ends in "..." or "…", or CSS
text-overflow: ellipsis is set while its content overflows) or when its content is wider than its
box (scrollWidth > clientWidth). Any cell of any table whose whole text is NaN, NaT, None, nan or
<NA> is a problem, as is a pandas "..." cell standing for hidden rows or columns.
"""

from __future__ import annotations

from labkit.tables import TEXT_WORDS

_CHECK = r"""
([scope, words]) => {
  const textWord = new Set(words);
  const isText = (name) => (name.toLowerCase().match(/[a-z0-9]+/g) || []).some(w => textWord.has(w));
  const blankWords = new Set(["NaN", "nan", "NaT", "None", "<NA>"]);
  const problems = [];
  const roots = scope ? Array.from(document.querySelectorAll(scope)) : [document];
  const tables = new Set();
  for (const r of roots) {
    if (r.tagName === "TABLE") tables.add(r);
    r.querySelectorAll("table").forEach(t => tables.add(t));
  }
  let t = 0;
  for (const table of tables) {
    t += 1;
    if (!table.offsetParent && table.getClientRects().length === 0) continue;  // hidden (e.g. a fallback copy)
    const headRow = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : null;
    const names = headRow ? Array.from(headRow.cells).map(c => c.innerText.trim()) : [];
    for (const row of Array.from(table.tBodies).flatMap(b => Array.from(b.rows))) {
      Array.from(row.cells).forEach((cell, i) => {
        const text = cell.innerText.trim();
        const name = names[i] || "";
        const where = `table ${t}, column ${JSON.stringify(name)}`;
        if (blankWords.has(text)) problems.push(`${where}: shows ${JSON.stringify(text)}`);
        if (text === "..." || text === "…") problems.push(`${where}: a "..." cell hides rows or columns`);
        if (!isText(name)) return;
        const style = getComputedStyle(cell);
        if (text.endsWith("...") || text.endsWith("…"))
          problems.push(`${where}: text ends in an ellipsis: ${JSON.stringify(text.slice(-40))}`);
        if (cell.scrollWidth > cell.clientWidth + 1)
          problems.push(`${where}: content ${cell.scrollWidth}px wide in a ${cell.clientWidth}px cell`);
        else if (style.textOverflow === "ellipsis" && style.overflow !== "visible" && style.whiteSpace === "nowrap")
          problems.push(`${where}: set to cut with an ellipsis`);
      });
    }
  }
  return {tables: tables.size, problems};
}
"""


def table_problems(page, scope: str | None = None) -> tuple[int, list[str]]:
    """Return how many tables were checked and the problems found (empty when every table reads well)."""
    result = page.evaluate(_CHECK, [scope, sorted(TEXT_WORDS)])
    return result["tables"], result["problems"]


def assert_tables_readable(page, scope: str | None = None, *, at_least: int = 1) -> int:
    """Assert that at least ``at_least`` tables are on the page and none has a problem; return the count."""
    count, problems = table_problems(page, scope)
    assert count >= at_least, f"expected at least {at_least} table(s) in {scope or 'the page'}, found {count}"
    assert not problems, "tables that do not read well:\n" + "\n".join(problems[:30])
    return count
