"""The line-ending rule: which ``git am`` flags a series with CR LF lines needs, and how to explain a failure.

``git am`` strips the CR of every CR LF line of a plain mail (mailsplit) unless given ``--keep-cr``,
and keeps the CRs that come out of a base64 or quoted-printable body unless given
``--quoted-cr=strip``. So a patch against a file with Windows line ends fails by default, and a
check that feeds the raw mail to ``git apply`` wrongly says it applies. labkit keeps the CRs when
the target's copy of a CR LF file has CR LF, or when no such file exists there yet (new files keep
the author's line ends, so the blob matches the patch's ``index`` line), and strips them when the
target's copy has LF. ``keep_cr=True/False`` (``--keep-cr``/``--no-keep-cr``) overrides.
Check, apply and backport all take their flags from :func:`line_ends`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.review.git import run_git
from labkit.review.series import PatchSeries


@dataclass
class LineEnds:
    """The CR LF files of a series, how the target has them, and the ``git am`` flags chosen."""

    files: dict[str, str] = field(default_factory=dict)  # path -> "crlf" | "lf" | "absent" in the target
    keep_cr: bool | None = None  # None: the series has no CR LF lines
    flags: list[str] = field(default_factory=list)
    chosen_by: str = "auto"  # auto | the caller

    def explain(self, series: PatchSeries, n: int | None) -> str:
        """Say why patch ``n`` may have failed on line ends and which flag to try ('' when it has none)."""
        commit = next((c for c in series.commits if c.index == n), None)
        if commit is None or not commit.crlf_files or self.keep_cr is None:
            return ""
        where = ", ".join(f"{p} ({self.files.get(p, 'absent')} in the target)" for p in commit.crlf_files[:3])
        done = "kept" if self.keep_cr else "stripped"
        flag, arg = ("--no-keep-cr", "keep_cr=False") if self.keep_cr else ("--keep-cr", "keep_cr=True")
        return (f"patch {n} has CR LF line ends in {where}; labkit {done} the CRs ({self.chosen_by}): "
                f"try {flag} on the CLI ({arg} in Python)")


def _target_state(repo: Path, sha: str, paths: list[str]) -> dict[str, str]:
    """Return for each path whether the commit ``sha`` has it with CR LF, with LF only, or not at all."""
    usable = [p for p in paths if "\n" not in p]
    query = "".join(f"{sha}:{p}\n" for p in usable).encode("utf-8", "surrogateescape")
    out = run_git(repo, "cat-file", "--batch", input=query, check=False)
    data = out.raw
    state: dict[str, str] = dict.fromkeys(paths, "absent")
    pos = 0
    for path in usable:
        end = data.find(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            state[path] = "crlf" if b"\r\n" in data[pos:pos + size] else "lf"
            pos += size + 1
    return state


def line_ends(repo: Path, series: PatchSeries, onto_sha: str, keep_cr: bool | None = None) -> LineEnds:
    """Decide the ``git am`` line-ending flags for ``series`` onto ``onto_sha`` (see the module doc)."""
    crlf_commits = [c for c in series.commits if c.crlf_files]
    if not crlf_commits and keep_cr is None:
        return LineEnds()
    preimages: dict[str, None] = {}
    for c in crlf_commits:
        for f in c.files:
            if f.crlf:
                preimages.setdefault(f.old_path or f.path, None)
    files = _target_state(repo, onto_sha, list(preimages)) if preimages else {}
    if keep_cr is None:
        states = set(files.values())
        want = "crlf" in states or ("lf" not in states and "absent" in states)
        chosen_by = "auto"
    else:
        want, chosen_by = keep_cr, "as asked"
    flags = ["--keep-cr" if want else "--no-keep-cr"]
    if any(c.cr_encoded for c in crlf_commits):
        flags.append("--quoted-cr=nowarn" if want else "--quoted-cr=strip")
    return LineEnds(files, want, flags, chosen_by)
