"""Fuzzing of every ``labkit`` subcommand: the cases (from the argparse tree) and the in-process runner.

Each leaf command is found by walking ``labkit.cli.build_parser()``, so a new command is fuzzed
without any change here. For each value-taking argument, bad values of its kind are substituted
into a base command line (hand-written for the known commands, derived for new ones): bad JQL,
non-UTF-8 and binary files, directories, missing files, huge numbers, odd URL schemes, ``../``
paths, and shell, XML and git-option injection in names.

The runner (``python -m tests.security.cli_fuzz CASES.json RESULTS.json``) runs many cases in one
process through ``labkit.cli.main`` with stdout/stderr captured, restoring the environment and the
working directory after each, and records what the invariants need: the exit code, stderr, any
exception that escaped ``main`` (a traceback for the user), and what appeared or changed on disk.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

MARKER = "pwned"  # what the shell-injection values would create if a shell ever ran them
PASSWORD = "PW-fuzz-8d1"  # written into URLs: it must never be shown
CASE_SECONDS = 45  # a case still running after this is a hang (reported, then the next case runs)

# Values for any argument: injection in names, paths and markup, and text a terminal or parser may trip on.
INJECTION = [f"$(touch {MARKER})", f"`touch {MARKER}`", f"a; touch {MARKER}", f"a|touch {MARKER}",
             "x\ny", "<a>&xxe;</a>]]>", f"--upload-pack=touch {MARKER}", "-oProxyCommand=touch x",
             "../../../../../etc/passwd", "\u202eevil\ufeff", "x" * 5000, " ", ""]
NUMBERS = ["99999999999999999999", "-1", "nan", "inf", "1e309", "9" * 5000, "0x10", "1.5", ""]
URLS = [f"ftp://admin:{PASSWORD}@h.example/x", "file:///etc/passwd", "javascript:alert(1)", "http://[::1",
        "http://h.example:99999/", "http://", "//h.example/x", "gopher://127.0.0.1:25/x"]
JQLS = ["project = ", '"unterminated', "((((((((((", "text ~ ", "ORDER BY", "\x1b[2Jproject = DEMO",
        'text ~ "' + "disk space " * 10_000 + '"', "project in (" + ",".join(f"P{i}" for i in range(3000)) + ")",
        "project = DEMO AND text ~ \"a*\""]
# (name, must the command refuse it?)
FILE_VALUES = [("missing", True), ("directory", True), ("binary", True), ("latin1", True), ("empty", False),
               ("dotdot", False), ("devnull", False), ("under-a-file", True)]
REFUSE_NUMBERS = {"99999999999999999999", "nan", "inf", "1e309", "9" * 5000, "0x10"}
REFUSE_URLS = {URLS[0], URLS[1], URLS[2], URLS[3], URLS[4], URLS[5], URLS[7]}
REFUSE_JQLS = {JQLS[0], JQLS[1], JQLS[2], JQLS[3], JQLS[6], JQLS[7]}

# What kind of value each argument (by dest) takes; anything else is a name.
KIND = {
    "file_in": {"export", "mapping", "issues", "order", "notebook", "plan_file", "iso", "kernel", "initrd",
                "ssh_key", "ca_bundle", "paths", "source", "cloud"},
    "file_out": {"db", "journal", "save", "out", "seed_dir", "disk_dir", "serial_log_dir", "root", "config_file",
                 "credentials_file", "notebooks", "repo"},
    "url": {"url", "base_url", "api_url", "endpoint", "uri"},
    "number": {"limit", "page_size", "workers", "port", "memory", "vcpus", "disk_gb", "nodes", "need_gb",
               "timeout", "cell_timeout", "count", "vnc_display", "call_timeout"},
    "jql": {"jql"},
}
# Arguments that are commands or free text by design: only checked for tracebacks, not for injection.
FREE_TEXT = {"test_cmd", "cmdline"}
# Paths on the VM host, not on this machine (an ISO, a kernel and an initrd are binary by nature): ``vm plan`` and
# ``vm destroy`` only name them; ``vm launch`` checks the ISO, kernel and initrd on the host (there a missing one,
# a folder or a path under a file is refused); the folders are used only with --seed, file disks or given logs.
HOST_PATHS = {"iso", "kernel", "initrd", "seed_dir", "disk_dir", "serial_log_dir"}
HOST_FILES_CHECKED = {("vm launch", "iso"), ("vm launch", "kernel"), ("vm launch", "initrd")}


def kind_of(dest: str) -> str:
    """Return the kind of value an argument takes (file_in, file_out, url, number, jql or name)."""
    for kind, dests in KIND.items():
        if dest in dests:
            return kind
    return "name"


@dataclass(frozen=True)
class Slot:
    """One value-taking argument of a command."""

    dest: str
    option: str | None  # None for a positional
    required: bool
    nargs: object = None


@dataclass
class Case:
    """One command line to run and what it must do."""

    command: str           # e.g. "jira search"
    argv: list[str]
    what: str              # which argument got which value, for reports
    must_refuse: bool      # the value is bad whatever the rest: exit 0 is a finding
    area: str = ""


@dataclass
class Result:
    """What one case did."""

    case: Case
    code: int | None
    stderr: str
    stdout_tail: str
    exception: str | None = None   # a traceback that escaped labkit.cli.main
    hang: bool = False
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    marker: bool = False


def leaf_commands() -> dict[str, argparse.ArgumentParser]:
    """Every leaf command of the ``labkit`` parser: "jira search" -> its parser."""
    from labkit.cli import build_parser

    out: dict[str, argparse.ArgumentParser] = {}

    def walk(p: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and path:
            out[" ".join(path)] = p
        for s in subs:
            for name, sp in s.choices.items():
                walk(sp, path + [name])

    walk(build_parser(), [])
    return out


def slots(parser: argparse.ArgumentParser) -> list[Slot]:
    """The value-taking arguments of a command (flags and fixed choices are left to argparse)."""
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction | argparse._StoreTrueAction | argparse._StoreFalseAction
                      | argparse._StoreConstAction | argparse._VersionAction):
            continue
        if a.choices is not None:
            continue
        out.append(Slot(a.dest, max(a.option_strings, key=len) if a.option_strings else None, a.required, a.nargs))
    return out


def area_of(command: str) -> str:
    """Return the package area a command belongs to (jira, tracker, rank, vm, aws, review, sandbox, foundation)."""
    head = command.split()[0]
    return {"jira": "jira", "rank": "rank", "vm": "vm", "aws": "aws", "pr": "review", "sandbox": "sandbox"}.get(
        head, "foundation") if command != "jira import" else "tracker"


class Fixtures:
    """The files cases point at, under one folder: good inputs for the bases, bad ones for the fuzzing."""

    def __init__(self, root: Path, jira_url: str | None) -> None:
        self.root = root
        self.jira_url = jira_url or "http://127.0.0.1:9"
        f = root / "fixtures"
        self.dir = f

    def make(self) -> None:
        """Write the fixture files (once per fuzz run)."""
        from labkit.tracker import rt

        f = self.dir
        f.mkdir(parents=True, exist_ok=True)
        rt.write_tickets(list(rt.generate_tickets(6, seed=1)), f / "export.csv")
        (f / "mapping.json").write_text(json.dumps({"project": "OPS"}))
        (f / "order.txt").write_text("")
        (f / "directory").mkdir(exist_ok=True)
        (f / "binary").write_bytes(bytes(range(256)) * 8)
        (f / "latin1").write_bytes("id,subject\n1,caf\xe9 \xfcber\n".encode("latin-1"))
        (f / "empty").write_bytes(b"")
        (f / "a-file").write_text("not a folder\n")
        (f / "nb.ipynb").write_text(json.dumps({
            "cells": [{"cell_type": "code", "execution_count": None, "id": "p1", "metadata": {"tags": ["parameters"]},
                       "outputs": [], "source": "n = 1"}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}))
        (f / "x.patch").write_text("From 1 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.com>\nSubject: [PATCH] x\n\n"
                                   "---\n a | 1 +\n\ndiff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1 @@\n+x\n")

    def file_value(self, name: str) -> str:
        """A path of the named bad kind."""
        f = self.dir
        return {"missing": str(f / "no-such-file.csv"), "directory": str(f / "directory"),
                "binary": str(f / "binary"), "latin1": str(f / "latin1"), "empty": str(f / "empty"),
                "dotdot": "../fixtures/empty", "devnull": os.devnull,
                "under-a-file": str(f / "a-file" / "x.json")}[name]


def base_argv(command: str, fx: Fixtures, parser: argparse.ArgumentParser) -> dict[str, str]:
    """Return the base values (dest -> value) a command runs with: a dry run that gets as far as it can."""
    f = fx.dir
    bases: dict[str, dict[str, str]] = {
        "jira search": {"jql": "project = DEMO", "limit": "3"},
        "jira mirror": {"db": str(fx.root / "work" / "m.sqlite"), "jql": "project = DEMO"},
        "jira import": {"export": str(f / "export.csv"), "project": "OPS", "journal": str(fx.root / "work" / "j")},
        "rank violations": {"issues": "demo"},
        "rank plan": {"issues": "demo"},
        "rank apply": {"jql": "project = NOPE ORDER BY Rank ASC", "journal": str(fx.root / "work" / "undo.json")},
        "rank undo": {"journal": str(f / "empty")},
        "rank rehearse": {"issues": "demo"},
        "vm plan": {"cloud": "alpha", "uri": "test:///default", "root": "/"},
        "vm check": {"uri": "test:///default", "root": "/"},
        "vm launch": {"cloud": "alpha", "uri": "test:///default", "root": "/"},
        "vm apply": {"plan_file": str(f / "empty"), "uri": "test:///default"},
        "vm destroy": {"cloud": "alpha", "uri": "test:///default", "root": "/"},
        "vm wait": {"cloud": "alpha", "uri": "test:///default", "timeout": "2"},
        "vm seed": {"cloud": "alpha", "uri": "test:///default"},
        "vm snapshot": {"cloud": "alpha", "uri": "test:///default"},
        "vm revert": {"cloud": "alpha", "uri": "test:///default", "name": "s1"},
        "vm clone": {"cloud": "alpha", "uri": "test:///default", "count": "1", "save": str(fx.root / "work" / "c.toml")},
        "aws write": {"name": "p1", "region": "us-east-1", "url": "http://127.0.0.1:9",
                      "config_file": str(fx.root / "work" / "aws-config"),
                      "credentials_file": str(fx.root / "work" / "aws-credentials")},
        # boto3 only: the values fuzzed reach both tools the same way, and the aws CLI is one process per check
        # (20 a case); its own path is tested in tests/aws
        "aws verify": {"name": "p1", "tool": "boto3", "timeout": "3",
                       "config_file": str(fx.root / "work" / "aws-config"),
                       "credentials_file": str(fx.root / "work" / "aws-credentials")},
        "aws list": {"config_file": str(fx.root / "work" / "aws-config"),
                     "credentials_file": str(fx.root / "work" / "aws-credentials")},
        "aws remove": {"name": "p1", "config_file": str(fx.root / "work" / "aws-config"),
                       "credentials_file": str(fx.root / "work" / "aws-credentials")},
        "aws credential-process": {"name": "p1", "access_key_id": "AKIDFUZZ", "secret_env": "NO_SUCH_FUZZ_ENV"},
        "aws env": {"name": "p1", "config_file": str(fx.root / "work" / "aws-config"),
                    "credentials_file": str(fx.root / "work" / "aws-credentials")},
        "aws import": {"paths": str(f / "empty"), "config_file": str(fx.root / "work" / "aws-config"),
                       "credentials_file": str(fx.root / "work" / "aws-credentials")},
        "pr review": {"source": str(f / "x.patch"), "repo": str(f / "directory")},
        "pr apply": {"source": str(f / "x.patch"), "repo": str(f / "directory")},
        "sandbox start": {"services": "no-such-service"},
        "sandbox stop": {"services": "no-such-service"},
        "lab": {"port": "-5", "notebooks": str(f / "no-such-folder")},
        "run": {"notebook": str(f / "nb.ipynb"), "out": str(fx.root / "work" / "runs")},
        "runs": {"out": str(fx.root / "work" / "runs")},
    }
    if command in bases:
        return dict(bases[command])
    neutral = {"file_in": str(f / "empty"), "file_out": str(fx.root / "work" / "out"), "url": fx.jira_url,
               "number": "1", "jql": "project = DEMO", "name": "x1"}
    return {s.dest: neutral[kind_of(s.dest)] for s in slots(parser) if s.required or s.option is None}


def render(parser: argparse.ArgumentParser, command: str, values: dict[str, str]) -> list[str]:
    """Build the argv of a command from dest -> value (options as --opt=value, positionals after --)."""
    by_dest = {s.dest: s for s in slots(parser)}
    opts, pos = [], []
    for a in parser._actions:  # keep the parser's positional order
        if a.dest in values and a.dest in by_dest:
            s = by_dest[a.dest]
            if s.option is None:
                pos.append(values[a.dest])
            else:
                opts.append(f"{s.option}={values[a.dest]}")
        elif a.dest in values and a.option_strings and a.choices is not None:  # a fixed choice of the base
            opts.append(f"{max(a.option_strings, key=len)}={values[a.dest]}")
    return command.split() + opts + (["--"] + pos if pos else [])


def cases_for(command: str, parser: argparse.ArgumentParser, fx: Fixtures) -> list[Case]:
    """Every fuzz case of one command: each slot with each bad value of its kind (and the injections)."""
    base = base_argv(command, fx, parser)
    out: list[Case] = []
    area = area_of(command)

    def add(dest: str, value: str, what: str, refuse: bool) -> None:
        values = {**base, dest: value}
        out.append(Case(command, render(parser, command, values), what, refuse, area))

    for s in slots(parser):
        kind = kind_of(s.dest)
        if s.dest in HOST_PATHS and command.startswith("vm "):
            checked = (command, s.dest) in HOST_FILES_CHECKED
            for name, _ in FILE_VALUES:
                add(s.dest, fx.file_value(name), f"{s.dest}={name}",
                    checked and name in ("missing", "directory", "under-a-file"))
        elif kind == "file_in":
            for name, refuse in FILE_VALUES:
                add(s.dest, fx.file_value(name), f"{s.dest}={name}", refuse)
        elif kind == "file_out":
            for name, refuse in (("directory", s.dest not in ("root", "notebooks", "out", "repo")),
                                 ("under-a-file", True)):
                add(s.dest, fx.file_value(name), f"{s.dest}={name}", refuse)
        elif kind == "url":
            for v in URLS:
                add(s.dest, v, f"{s.dest}={v[:30]!r}", v in REFUSE_URLS)
        elif kind == "number":
            for v in NUMBERS:
                add(s.dest, v, f"{s.dest}={v[:20]!r}", v in REFUSE_NUMBERS)
        elif kind == "jql":
            for v in JQLS:
                add(s.dest, v, f"{s.dest}={v[:30]!r}", v in REFUSE_JQLS)
        if s.dest not in FREE_TEXT:
            for v in INJECTION:
                add(s.dest, v, f"{s.dest}={v[:30]!r}", False)
    if not slots(parser):
        out.append(Case(command, command.split() + ["unexpected-extra"], "an extra argument", True, area))
    return out


def global_cases() -> list[Case]:
    """The global options, on a command that reads them first (``sandbox status``)."""
    out = []
    for v in NUMBERS + ["0"]:
        out.append(Case("sandbox status", [f"--timeout={v}", "jira", "search", "project = DEMO"],
                        f"--timeout={v[:20]!r}", v not in ("1.5",), "foundation"))
    for v in INJECTION:
        out.append(Case("sandbox status", [f"--profile={v}", "jira", "search", "project = DEMO"],
                        f"--profile={v[:30]!r}", True, "foundation"))
    return out


# ---------------------------------------------------------------------------------------------- runner

def _snapshot(roots: list[Path]) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file and folder under the roots."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out[p] = (st.st_size if not os.path.isdir(p) else 0, st.st_mtime_ns if not os.path.isdir(p) else 0)
    return out


class _Hang(Exception):
    """Raised by the alarm in a case that runs too long."""


def _alarm(signum, frame):  # noqa: ARG001
    raise _Hang()


def run_cases(cases: list[Case], watch: list[Path], cwd: Path) -> list[Result]:
    """Run each case through ``labkit.cli.main`` in this process; see the module docstring."""
    from labkit.cli import main

    env = dict(os.environ)
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for case in cases:
        before = _snapshot(watch)
        out, err = io.StringIO(), io.StringIO()
        code: int | None = None
        exc_text = None
        hang = False
        os.chdir(cwd)
        signal.alarm(CASE_SECONDS)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(case.argv)
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except _Hang:
            hang = True
        except BaseException:  # noqa: BLE001 - anything escaping main is a traceback the user would see
            exc_text = traceback.format_exc()
        finally:
            signal.alarm(0)
        os.environ.clear()
        os.environ.update(env)
        after = _snapshot(watch)
        created = sorted(p for p in after if p not in before)
        changed = sorted(p for p in after if p in before and after[p] != before[p])
        marker = any(os.path.basename(p) == MARKER for p in after)
        for p in created:  # each case starts from the same files
            with contextlib.suppress(OSError):
                if os.path.isdir(p) and not os.path.islink(p):
                    import shutil

                    shutil.rmtree(p)
                else:
                    os.unlink(p)
        results.append(Result(case, code, err.getvalue(), out.getvalue()[-300:], exc_text, hang, created, changed,
                              marker))
    return results


def problems(r: Result) -> list[str]:
    """The invariants a result breaks (empty when it is fine)."""
    bad = []
    if r.hang:
        bad.append(f"still running after {CASE_SECONDS} s")
    if r.exception:
        bad.append("traceback: " + " | ".join(r.exception.strip().splitlines()[-3:]))
    if "Traceback (most recent call last)" in r.stderr:
        bad.append("traceback on stderr: " + r.stderr.strip().splitlines()[-1][:200])
    if r.marker:
        bad.append("a shell ran an injected command (the marker file exists)")
    if PASSWORD in r.stderr + r.stdout_tail:
        bad.append("the password written in a URL is shown")
    if r.code not in (0, 1, 2, None) and not r.hang and not r.exception:
        bad.append(f"exit {r.code}")
    if r.code == 1:
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("labkit: error:")]
        if len(lines) != 1:
            bad.append(f"exit 1 with {len(lines)} 'labkit: error:' lines: {r.stderr.strip()[:200]!r}")
    if r.code == 2 and "usage:" not in r.stderr and "error:" not in r.stderr:
        bad.append(f"exit 2 without a usage error: {r.stderr.strip()[:200]!r}")
    if r.code == 0 and r.case.must_refuse:
        bad.append("accepted (exit 0): " + (r.stdout_tail.strip().splitlines() or [""])[-1][:150])
    if r.code not in (0, None) and (r.created or r.changed):
        bad.append(f"failed but created {r.created[:3]} changed {r.changed[:3]}")
    return bad


def main() -> int:
    """Run the cases of CASES.json (cwd, watch, cases) and write the results to RESULTS.json."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    cases = [Case(**c) for c in spec["cases"]]
    results = run_cases(cases, [Path(p) for p in spec["watch"]], Path(spec["cwd"]))
    Path(sys.argv[2]).write_text(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    os._exit(main())  # threads a case left behind must not keep the runner alive
