"""The sandbox git forge: pull requests of a local demo repository behind GitHub-shaped URLs on 127.0.0.1.

``labkit sandbox start forge`` runs ``python -m labkit.review.forge --port P --workdir W``. On start it
creates (once per demo version) a bare repository ``demo/calc`` under ``W/git`` with branches
``main`` and ``release-1.x`` and five pull requests (``refs/pull/N/head``): #1 adds mul() (one
message lacks an issue ID), #2 conflicts with release-1.x, #3 breaks the tests, #4 is too large
for the diff media types (301 files: 406, as GitHub), #5 was force-pushed (its v1 head is kept,
and its page links the force-push's Compare view). Then it serves:

- ``/{o}/{r}/pull/{n}``: the PR page with ``<link rel="alternate" type="text/x-patch" href=...>``
  and, for a force-pushed PR, a ``/{o}/{r}/compare/OLD..NEW`` link per force-push
- ``/{o}/{r}/pull/{n}.patch`` and ``.diff``; Gitea/Forgejo style ``/{o}/{r}/pulls/{n}.patch``
- ``/{o}/{r}/compare/{base}...{head}.patch`` (from the merge base) and ``{base}..{head}.patch``
- API v3 at ``/repos/...`` and ``/api/v3/repos/...``: ``GET /repos/{o}/{r}`` (``clone_url`` is the
  local path), ``/pulls`` and ``/pulls/{n}/commits`` with Link pagination, ``/pulls/{n}`` as JSON or,
  with ``Accept: application/vnd.github.patch`` / ``.diff``, as the patch; ``/rate_limit``;
  Gitea API ``/api/v1/repos/{o}/{r}/pulls/{n}.patch``
- rate-limit headers on API calls (``--anon-limit`` per window for anonymous calls, 5000 with the
  sandbox token ``$LABKIT_SANDBOX_SECRET``, compared in constant time), 403 when exhausted, 401 for a
  wrong token; a PR number of more than 9 digits is a 400, never a crash.
"""

from __future__ import annotations

import argparse
import hmac
import html
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from labkit.sandbox.registry import ServiceSpec

OWNER, REPO = "demo", "calc"
ISSUE_PATTERN = r"CALC-\d+"
DEMO_VERSION = "2"  # bump when the demo repository changes: a sandbox made by an older labkit is rebuilt
MAX_DIFF_FILES, MAX_DIFF_LINES = 300, 20_000  # what GitHub's diff media types accept
_NUMBER = r"(\d+)"  # more than 9 digits is not a number the forge answers (400, see Handler._number)
_REF = r"(\w[\w/-]{0,99}(?:\.[\w/-]{1,99}){0,9})"  # a branch or sha: no "..", no trailing dot
_DATE = "2024-03-0{day}T10:00:00+00:00"


def _argv(port: int, workdir: Path) -> list[str]:
    """Return the command that runs the forge on ``port`` with its repositories in ``workdir``."""
    return [sys.executable, "-m", "labkit.review.forge", "--port", str(port), "--workdir", str(workdir)]


SERVICE = ServiceSpec(name="forge", description="git forge with GitHub-shaped pull requests (local repos)",
                      argv=_argv, health_path="/", order=30)


@dataclass
class Pull:
    """One pull request of the sandbox forge."""

    number: int
    title: str
    body: str
    head: str  # branch name in the work repo
    base: str
    user: str


PULLS = [
    Pull(1, "Add mul() with a test", "Adds multiplication.\n\nThe first commit lacks an issue ID.", "feature/mul",
         "main", "ada"),
    Pull(2, "Make add() commutative in code", "Conflicts with release-1.x on purpose.", "feature/swap",
         "main", "grace"),
    Pull(3, "Faster pow()", "Breaks the test suite on purpose.", "feature/pow", "main", "linus"),
    Pull(4, "Vendor the icon set", "301 files: too large for the diff media types.", "feature/icons", "main",
         "margaret"),
    Pull(5, "Add div()", "v2: div() refuses 0, docs added (force-pushed over v1).", "feature/div", "main", "barbara"),
]
# PR -> branches holding its earlier heads, oldest first (force-pushed away, kept as hidden refs)
REVISIONS = {5: ["feature/div-v1"]}

CALC = '''"""A tiny calculator."""


def add(a, b):
    return a + b


def sub(a, b):
    return a - b
'''

TESTS = '''import unittest

import calc


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_sub(self):
        self.assertEqual(calc.sub(5, 3), 2)


if __name__ == "__main__":
    unittest.main()
'''


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in ``cwd`` with no system config and return its output."""
    e = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        e.pop(var, None)
    r = subprocess.run(["git", "-c", "gc.auto=0", *args], cwd=str(cwd), capture_output=True, env=e, check=True)
    return r.stdout.decode("utf-8", "replace")


def _commit(work: Path, files: dict[str, str], message: str, author: tuple[str, str], day: int) -> None:
    """Write files and commit them in the demo repository as ``author`` on a fixed day."""
    for name, text in files.items():
        (work / name).write_text(text)
    _git(work, "add", *files)
    date = _DATE.format(day=day)
    _git(work, "commit", "-q", "-m", message, env={
        "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": "Forge Bot", "GIT_COMMITTER_EMAIL": "forge@sandbox.invalid",
        "GIT_COMMITTER_DATE": date})


def create_demo(workdir: Path) -> Path:
    """Create the demo repository with its branches and pull requests (once); return the bare repo path."""
    import shutil

    bare = workdir / "git" / OWNER / f"{REPO}.git"
    marker = bare / "labkit-demo-version"
    if marker.exists() and marker.read_text().strip() == DEMO_VERSION:
        return bare
    shutil.rmtree(bare, ignore_errors=True)
    work = workdir / "git" / f".{REPO}-work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    maint = ("Maya Maintainer", "maya@calc.example")
    _commit(work, {"calc.py": CALC, "test_calc.py": TESTS, "README.md": "# calc\n"}, "CALC-1: initial import",
            maint, 1)
    _git(work, "branch", "release-1.x")
    _commit(work, {"README.md": "# calc\n\nRun the tests: python3 -m unittest -q\n"}, "CALC-2: document tests",
            maint, 2)
    _git(work, "checkout", "-q", "release-1.x")
    _commit(work, {"VERSION": "1.0.1\n", "calc.py": CALC.replace("    return a + b", "    return a + b  # 1.x")},
            "CALC-3: release 1.0.1", maint, 3)
    _git(work, "checkout", "-q", "-b", "feature/mul", "main")
    ada = ("Ada Lovelace", "ada@example.org")
    _commit(work, {"calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n"}, "Add mul()", ada, 4)
    _commit(work, {"test_calc.py": TESTS.replace(
        "\n\nif __name__", "\n    def test_mul(self):\n        self.assertEqual(calc.mul(4, 3), 12)\n\n\nif __name__")},
        "CALC-7: test mul()\n\nSigned-off-by: Ada Lovelace <ada@example.org>", ada, 5)
    _git(work, "checkout", "-q", "-b", "feature/swap", "main")
    _commit(work, {"calc.py": CALC.replace("    return a + b", "    return b + a")},
            "CALC-8: add() adds b to a\n\nSigned-off-by: Grace Hopper <grace@example.org>",
            ("Grace Hopper", "grace@example.org"), 6)
    _git(work, "checkout", "-q", "-b", "feature/pow", "main")
    _commit(work, {"calc.py": CALC + "\n\ndef pow(a, b):\n    return a * b  \n",
                   "test_calc.py": TESTS.replace("\n\nif __name__", "\n    def test_pow(self):\n"
                                                 "        self.assertEqual(calc.pow(2, 3), 8)\n\n\nif __name__")},
            "CALC-9: faster pow()", ("Linus Torvalds", "linus@example.org"), 7)
    _git(work, "checkout", "-q", "-b", "feature/icons", "main")
    icons = {f"icons/i{i:03d}.txt": f"icon {i}\n" for i in range(301)}
    (work / "icons").mkdir()
    _commit(work, icons, "CALC-13: vendor the icon set", ("Margaret Hamilton", "margaret@example.org"), 8)
    barbara = ("Barbara Liskov", "barbara@example.org")
    test_div = TESTS.replace("\n\nif __name__", "\n    def test_div(self):\n        self.assertEqual(calc.div(6, 3), 2)"
                             "\n\n\nif __name__")
    _git(work, "checkout", "-q", "-b", "feature/div-v1", "main")
    _commit(work, {"calc.py": CALC + "\n\ndef div(a, b):\n    return a / b\n"}, "CALC-11: add div()", barbara, 9)
    _commit(work, {"test_calc.py": test_div}, "CALC-11: test div()", barbara, 9)
    _git(work, "checkout", "-q", "-b", "feature/div", "main")
    _commit(work, {"calc.py": CALC + "\n\ndef div(a, b):\n    if b == 0:\n        raise ZeroDivisionError(\"div by 0\")"
                   "\n    return a / b\n"}, "CALC-11: add div()", barbara, 10)
    _commit(work, {"test_calc.py": test_div}, "CALC-11: test div()", barbara, 10)
    _commit(work, {"README.md": "# calc\n\nRun the tests: python3 -m unittest -q\n\ndiv(a, 0) raises "
                   "ZeroDivisionError.\n"}, "CALC-12: document div()", barbara, 10)
    _git(work, "checkout", "-q", "main")
    bare.parent.mkdir(parents=True, exist_ok=True)
    _git(workdir, "clone", "-q", "--bare", str(work), str(bare))
    for p in PULLS:
        _git(bare, "update-ref", f"refs/pull/{p.number}/head", f"refs/heads/{p.head}")
    for n, olds in REVISIONS.items():  # force-pushed heads stay reachable, as on GitHub
        for i, old in enumerate(olds, 1):
            _git(bare, "update-ref", f"refs/labkit/pull/{n}/rev{i}", f"refs/heads/{old}")
    for p in PULLS:  # contributors' branches live in their forks, not upstream
        _git(bare, "branch", "-D", p.head)
    for olds in REVISIONS.values():
        for old in olds:
            _git(bare, "branch", "-D", old)
    shutil.rmtree(work, ignore_errors=True)
    marker.write_text(DEMO_VERSION + "\n")
    return bare


class Forge:
    """The state of a running forge: repos, pulls, tokens and rate-limit windows."""

    def __init__(self, workdir: Path, secret: str, anon_limit: int = 60, window: float = 3600.0,
                 per_page_default: int = 30) -> None:
        """Create the demo repositories in ``workdir`` and the forge's rate-limit state."""
        self.workdir = workdir
        self.bare = create_demo(workdir)
        self.secret = secret
        self.anon_limit = anon_limit
        self.window = window
        self.per_page_default = per_page_default
        self.lock = threading.Lock()
        self.used: dict[str, int] = {}
        self.window_start: dict[str, float] = {}  # per caller, from its first call (as GitHub does)
        self.cache: dict[tuple[int, str], bytes] = {}

    def pull(self, owner: str, repo: str, number: int) -> Pull | None:
        """Return a pull request or None."""
        if (owner, repo) != (OWNER, REPO):
            return None
        return next((p for p in PULLS if p.number == number), None)

    def merge_base(self, p: Pull) -> str:
        """The commit the PR branched from (GitHub's base for the .patch)."""
        return _git(self.bare, "merge-base", f"refs/heads/{p.base}", f"refs/pull/{p.number}/head").strip()

    def patch(self, p: Pull, kind: str = "patch") -> bytes:
        """The PR as format-patch mbox (``patch``) or one diff (``diff``)."""
        key = (p.number, kind)
        if key not in self.cache:
            self.cache[key] = self.range_patch(self.merge_base(p), f"refs/pull/{p.number}/head", kind)
        return self.cache[key]

    def range_patch(self, base: str, head: str, kind: str = "patch") -> bytes:
        """``git format-patch`` (or ``git diff``) of ``base..head``."""
        args = ["format-patch", "--stdout", "-M", "--binary"] if kind == "patch" else ["diff", "-M", "--binary"]
        return subprocess.run(["git", *args, f"{base}..{head}"], cwd=self.bare, capture_output=True,
                              check=True).stdout

    def too_large(self, p: Pull) -> str | None:
        """GitHub's 406 message when the PR's diff passes its limits (300 files, 20,000 lines), else None."""
        stat = _git(self.bare, "diff", "--numstat", self.merge_base(p), f"refs/pull/{p.number}/head")
        rows = [line.split("\t") for line in stat.splitlines() if line]
        if len(rows) > MAX_DIFF_FILES:
            return f"Sorry, the diff exceeded the maximum number of files ({MAX_DIFF_FILES}). Consider using " \
                   "'List pull requests files' API or locally cloning the repository instead."
        lines = sum(int(a) + int(b) for a, b, _ in rows if a.isdigit() and b.isdigit())
        if lines > MAX_DIFF_LINES:
            return f"Sorry, the diff exceeded the maximum number of lines ({MAX_DIFF_LINES})."
        return None

    def resolve(self, ref: str) -> str | None:
        """The commit a branch name or (short) sha names in the bare repository, or None."""
        r = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                           cwd=self.bare, capture_output=True)
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def force_pushes(self, p: Pull) -> list[tuple[str, str]]:
        """The (old head, new head) of each force-push of the PR, oldest first."""
        heads = [self.resolve(f"refs/labkit/pull/{p.number}/rev{i}") for i in range(1, len(REVISIONS.get(p.number, []))
                                                                                 + 1)]
        heads = [h for h in heads if h] + [self.resolve(f"refs/pull/{p.number}/head") or ""]
        return list(zip(heads, heads[1:], strict=False))

    def commits(self, p: Pull) -> list[dict[str, Any]]:
        """The PR's commits in API shape."""
        out = _git(self.bare, "log", "--reverse", "--format=%H%x00%an%x00%ae%x00%aI%x00%s",
                   f"{self.merge_base(p)}..refs/pull/{p.number}/head")
        rows = []
        for line in out.splitlines():
            sha, name, mail, date, subject = line.split("\x00")
            rows.append({"sha": sha, "commit": {"author": {"name": name, "email": mail, "date": date},
                                                "message": subject}})
        return rows

    def pull_json(self, p: Pull, base_url: str) -> dict[str, Any]:
        """A pull request in GitHub API v3 shape (the fields labkit and users read)."""
        web = f"{base_url}/{OWNER}/{REPO}/pull/{p.number}"
        head_sha = _git(self.bare, "rev-parse", f"refs/pull/{p.number}/head").strip()
        base_sha = _git(self.bare, "rev-parse", f"refs/heads/{p.base}").strip()
        return {"number": p.number, "state": "open", "title": p.title, "body": p.body,
                "user": {"login": p.user}, "html_url": web, "patch_url": web + ".patch", "diff_url": web + ".diff",
                "url": f"{base_url}/api/v3/repos/{OWNER}/{REPO}/pulls/{p.number}",
                "head": {"ref": p.head, "sha": head_sha, "label": f"{p.user}:{p.head}"},
                "base": {"ref": p.base, "sha": base_sha, "label": f"{OWNER}:{p.base}"},
                "commits": len(self.commits(p))}

    def repo_json(self, base_url: str) -> dict[str, Any]:
        """The repository in API shape; ``clone_url`` is the local path of the bare repo."""
        return {"full_name": f"{OWNER}/{REPO}", "name": REPO, "owner": {"login": OWNER},
                "default_branch": "main", "clone_url": str(self.bare), "html_url": f"{base_url}/{OWNER}/{REPO}"}

    def take(self, who: str) -> tuple[bool, dict[str, str]]:
        """Count one API call for ``who``; return whether it is allowed and the rate-limit headers."""
        with self.lock:
            now = time.time()
            if now >= self.window_start.get(who, 0.0) + self.window:
                self.window_start[who] = now
                self.used[who] = 0
            limit = 5000 if who == "token" else self.anon_limit
            used = self.used.get(who, 0)
            allowed = used < limit
            if allowed:
                used += 1
                self.used[who] = used
            reset = int(self.window_start[who] + self.window + 0.999)
            return allowed, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - used)),
                             "X-RateLimit-Reset": str(reset), "X-RateLimit-Used": str(used),
                             "X-RateLimit-Resource": "core"}


def _page(items: list[Any], query: dict[str, list[str]], default: int) -> tuple[list[Any], int, int, int]:
    """Cut a list into the requested page; return (items, page, per_page, last page)."""
    try:
        per_page = max(1, min(100, int(query.get("per_page", [default])[0])))
        page = max(1, int(query.get("page", ["1"])[0]))
    except ValueError:
        per_page, page = default, 1
    last = max(1, (len(items) + per_page - 1) // per_page)
    return items[(page - 1) * per_page: page * per_page], page, per_page, last


def _link_header(base: str, path: str, page: int, per_page: int, last: int) -> str:
    """Return a GitHub-style Link header for a paginated list."""
    links = []
    for rel, n in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
        if (rel == "prev" and page > 1) or (rel == "next" and page < last) or (rel in ("first", "last") and last > 1):
            links.append(f'<{base}{path}?per_page={per_page}&page={n}>; rel="{rel}"')
    return ", ".join(links)


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} · Pull Request #{n} · {o}/{r}</title>
<link rel="alternate" type="text/x-patch" href="/{o}/{r}/pull/{n}.patch">
<link rel="alternate" type="text/x-diff" href="/{o}/{r}/pull/{n}.diff">
</head><body><h1>{title} <span>#{n}</span></h1><p>{user} wants to merge into {base} from {head}</p>
<pre>{body}</pre>{pushes}</body></html>
"""
PUSH = ('<div class="force-push">{user} force-pushed the {head} branch from <code>{old7}</code> to '
        '<code>{new7}</code> <a href="/{o}/{r}/compare/{old}..{new}">Compare</a></div>')
TOO_LARGE_ERRORS = [{"resource": "PullRequest", "field": "diff", "code": "too_large"}]


def make_handler(forge: Forge) -> type[BaseHTTPRequestHandler]:
    """Build the request handler class bound to one forge."""

    class Handler(BaseHTTPRequestHandler):
        """Answer the forge's web pages, patches and API calls."""
        server_version = "labkit-forge/1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: one line per request to stderr
            """Log one line per request to stderr (the sandbox log)."""
            line = fmt % args
            sys.stderr.write("forge: " + (line if len(line) <= 300 else line[:300] + "...") + "\n")

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            """Send a whole response with its content type and extra headers."""
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            """Send a JSON response."""
            self._send(status, json.dumps(data, indent=1).encode(), "application/json; charset=utf-8", headers)

        def _base(self) -> str:
            """Return the base URL the client used to reach the forge."""
            host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
            return f"http://{host}"

        def _number(self, text: str, headers: dict[str, str] | None = None) -> int | None:
            """Read a PR number from the path; answer 400 (and return None) when it is not one."""
            if len(text) > 9:
                self._json(400, {"message": f"{text[:12]}... is not a pull request number",
                                 "documentation_url": "https://docs.github.com/rest/pulls/pulls"}, headers)
                return None
            return int(text)

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            """Answer HEAD like GET (http.server drops the body)."""
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            """Route a GET to the PR page, its patch, a compare view or the API."""
            url = urlsplit(self.path)
            path, query = url.path.rstrip("/") or "/", parse_qs(url.query)
            if path == "/":
                return self._json(200, {"service": "labkit forge", "repos": [f"{OWNER}/{REPO}"],
                                        "pulls": [p.number for p in PULLS]})
            m = re.fullmatch(r"/api/v1/repos/([^/]+)/([^/]+)/pulls/" + _NUMBER + r"\.(patch|diff)", path)
            if m:
                return self._api(lambda: self._patch(m.group(1), m.group(2), m.group(3), m.group(4)))
            m = re.fullmatch(r"(?:/api/v3)?/(repos/.*|rate_limit)", path)
            if m:
                return self._api(lambda: self._v3(m.group(1), query))
            m = re.fullmatch(r"/([^/]+)/([^/]+)/compare/" + _REF + r"(\.\.\.?)" + _REF + r"\.(patch|diff)", path)
            if m:
                return self._compare(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6))
            m = re.fullmatch(r"/([^/]+)/([^/]+)/pulls?/" + _NUMBER + r"(\.patch|\.diff)?", path)
            if m:
                owner, repo, ext = m.group(1), m.group(2), m.group(4)
                if ext:
                    return self._patch(owner, repo, m.group(3), ext[1:])
                n = self._number(m.group(3))
                if n is None:
                    return None
                p = forge.pull(owner, repo, n)
                if p is None:
                    return self._send(404, b"Not Found\n", "text/plain")
                e = html.escape
                pushes = "".join(PUSH.format(user=e(p.user), head=e(p.head), old7=old[:7], new7=new[:7], old=old,
                                             new=new, o=e(owner), r=e(repo)) for old, new in forge.force_pushes(p))
                page = PAGE.format(title=e(p.title), n=n, o=e(owner), r=e(repo), user=e(p.user), base=e(p.base),
                                   head=e(p.head), body=e(p.body), pushes=pushes)
                return self._send(200, page.encode(), "text/html; charset=utf-8")
            return self._json(404, {"message": "Not Found"})

        def _patch(self, owner: str, repo: str, number: str, kind: str) -> None:
            """Serve a pull request as an mbox patch series (406 when it is too large, as GitHub)."""
            n = self._number(number)
            if n is None:
                return None
            p = forge.pull(owner, repo, n)
            if p is None:
                return self._send(404, b"Not Found\n", "text/plain")
            refusal = forge.too_large(p)
            if refusal:
                return self._json(406, {"message": refusal, "errors": TOO_LARGE_ERRORS, "status": "406"})
            return self._send(200, forge.patch(p, kind), "text/plain; charset=utf-8")

        def _compare(self, owner: str, repo: str, a: str, dots: str, b: str, kind: str) -> None:
            """Serve ``compare/A...B`` (from the merge base) or ``A..B`` as a patch series."""
            base, head = forge.resolve(a), forge.resolve(b)
            if (owner, repo) != (OWNER, REPO) or not base or not head:
                return self._send(404, b"Not Found\n", "text/plain")
            if dots == "...":
                base = _git(forge.bare, "merge-base", base, head).strip()
            return self._send(200, forge.range_patch(base, head, kind), "text/plain; charset=utf-8")

        def _api(self, handler) -> None:
            """Check the API token (constant-time) and the rate limit, then run the API handler."""
            auth = self.headers.get("Authorization")
            who = self.client_address[0]
            if auth is not None:
                scheme, _, value = auth.partition(" ")
                given, wanted = value.strip().encode("utf-8", "replace"), forge.secret.encode()
                if scheme.lower() not in ("bearer", "token") or not forge.secret or \
                        not hmac.compare_digest(given, wanted):
                    return self._json(401, {"message": "Bad credentials"})
                who = "token"
            allowed, rate = forge.take(who)
            self._rate = rate
            if not allowed:
                return self._json(403, {"message": f"API rate limit exceeded for {who}."}, rate)
            handler()

        def _v3(self, rest: str, query: dict[str, list[str]]) -> None:
            """Answer the GitHub v3 API calls the forge knows."""
            rate = self._rate
            base = self._base()
            if rest == "rate_limit":
                return self._json(200, {"resources": {"core": {k.split("-")[-1].lower(): v
                                                               for k, v in rate.items()}}}, rate)
            m = re.fullmatch(r"repos/([^/]+)/([^/]+)(?:/pulls(?:/" + _NUMBER + r"(/commits)?)?)?", rest)
            if not m or (m.group(1), m.group(2)) != (OWNER, REPO):
                return self._json(404, {"message": "Not Found"}, rate)
            number, commits = m.group(3), m.group(4)
            prefix = "/api/v3" if self.path.startswith("/api/v3") else ""
            if "/pulls" not in rest:
                return self._json(200, forge.repo_json(base), rate)
            if number is None:
                items = [forge.pull_json(p, base) for p in PULLS]
                page_items, page, per_page, last = _page(items, query, forge.per_page_default)
                link = _link_header(base, f"{prefix}/repos/{OWNER}/{REPO}/pulls", page, per_page, last)
                return self._json(200, page_items, {**rate, **({"Link": link} if link else {})})
            n = self._number(number, rate)
            if n is None:
                return None
            p = forge.pull(OWNER, REPO, n)
            if p is None:
                return self._json(404, {"message": "Not Found"}, rate)
            if commits:
                page_items, page, per_page, last = _page(forge.commits(p), query, forge.per_page_default)
                link = _link_header(base, f"{prefix}/repos/{OWNER}/{REPO}/pulls/{number}/commits", page, per_page,
                                    last)
                return self._json(200, page_items, {**rate, **({"Link": link} if link else {})})
            accept = self.headers.get("Accept", "")
            kind = "patch" if "patch" in accept else "diff" if "diff" in accept else None
            if kind:
                refusal = forge.too_large(p)
                if refusal:
                    return self._json(406, {"message": refusal, "errors": TOO_LARGE_ERRORS, "status": "406"}, rate)
                return self._send(200, forge.patch(p, kind), f"application/vnd.github.{kind}; charset=utf-8", rate)
            return self._json(200, forge.pull_json(p, base), rate)

    return Handler


def serve(port: int, workdir: Path, *, anon_limit: int = 60, window: float = 3600.0, per_page: int = 30) -> None:
    """Create the demo repository if needed and serve the forge on 127.0.0.1 until stopped."""
    forge = Forge(workdir, os.environ.get("LABKIT_SANDBOX_SECRET", ""), anon_limit, window, per_page)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(forge))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _stop(*_: Any) -> None:
    """Turn SIGTERM into a clean shutdown of the server loop."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Command line of the forge process (started by ``labkit sandbox start forge``)."""
    ap = argparse.ArgumentParser(prog="python -m labkit.review.forge", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--anon-limit", type=int, default=60, help="anonymous API calls per window (default 60)")
    ap.add_argument("--window", type=float, default=3600.0, help="rate-limit window in seconds (default 3600)")
    ap.add_argument("--per-page", type=int, default=30, help="default page size of list endpoints")
    args = ap.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, _stop)
    serve(args.port, args.workdir, anon_limit=args.anon_limit, window=args.window, per_page=args.per_page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
