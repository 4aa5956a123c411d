"""Benchmark the PR review job side by side with its peers, printing ratios.

1. Parse a 50 MB mbox made of the real eucalyptus series (shared/data/patches/eucalyptus), with
   labkit's ``parse_mbox`` and with PyPI ``unidiff`` (``PatchSet``) on the same text: MB/s and ratio.
2. Apply a 200-commit series made with real git: labkit ``apply_series`` (sparse scratch worktree,
   ``git am``, cleanup; the mbox parsed inside the call) vs bare ``git am`` in the maintainer's
   checkout of the same repository, run with exactly the ``git am`` flags labkit uses (read from
   its dry run). Goal <= 1.10x.
3. A large repository generated here (>= 30,000 files, deep history, with ``git fast-import``) and
   a 20-commit series: bare ``git am`` in the existing checkout, ``git worktree add`` + ``git am`` +
   ``git worktree remove`` (what a careful user does by hand), and labkit ``apply_series``, side
   by side; plus ``labkit pr apply --apply`` in a fresh process (the CLI user's cold start). Goal:
   labkit <= 1.5x bare ``git am``.

Rounds are interleaved (peer, labkit, peer, labkit, ...) so the load of other processes hits all
sides alike; medians are compared. Memory: this process's own peak (VmHWM) and the peak of the
largest git child (ru_maxrss of children).

    .venv/bin/python benchmarks/patch_review.py            # full sizes
    .venv/bin/python benchmarks/patch_review.py --quick    # small sizes, two rounds (smoke run)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.review.apply import apply_series  # noqa: E402
from labkit.review.mbox import parse_mbox  # noqa: E402

DATA_CANDIDATES = [ROOT.parent / "shared" / "data" / "patches" / "eucalyptus",
                   Path(os.environ.get("LABKIT_DATA", "/work/shared/data")) / "patches" / "eucalyptus"]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, input: bytes | None = None) -> bytes:
    """Run real git quietly (no automatic gc, for both sides) and return stdout."""
    return subprocess.run(["git", "-c", "gc.auto=0", *args], cwd=cwd, env=ENV, input=input,
                          capture_output=True, check=True).stdout


def cpu_now() -> float:
    """CPU seconds used so far by this process and its finished children (git), user + system."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


CPU: dict[str, list[float]] = {}  # the CPU seconds of each timed call, per side (less sensitive to a busy machine)


def timed(fn: Callable[[], object], name: str = "") -> float:
    """Return the wall time of one call (and record its CPU time under ``name``)."""
    c = cpu_now()
    t = time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    CPU.setdefault(name, []).append(cpu_now() - c)
    return wall


def vm_hwm_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def git_am_peak_mb(repo: Path, flags: list[str], mbox: bytes) -> float:
    """Peak memory of one bare ``git am`` (GNU time's %M: the git process's own high-water mark), in MB."""
    git(repo, "checkout", "-q", "--detach", "main")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "git", "-c", "gc.auto=0", *flags], cwd=repo, env=ENV,
                       input=mbox, capture_output=True, check=True)
    git(repo, "checkout", "-q", "--detach", "main")
    return int(r.stderr.decode().strip().splitlines()[-1]) / 1024


LABKIT_PEAK = """
import sys
from pathlib import Path
from labkit.review.apply import apply_series
res = apply_series(sys.argv[1], Path(sys.argv[2]).read_bytes(), onto="main")
assert res.ok, res.message
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(int(hwm.split()[1]) / 1024)
"""


def labkit_peak_mb(repo: Path, patch: Path) -> float:
    """Peak memory of a fresh Python process that imports labkit and applies the series (its own VmHWM), in MB."""
    out = subprocess.run([sys.executable, "-c", LABKIT_PEAK, str(repo), str(patch)], env={**ENV, "PYTHONPATH": str(ROOT)},
                         capture_output=True, check=True, text=True).stdout
    return float(out.strip())


def interleaved(sides: dict[str, Callable[[], object]], rounds: int,
                between: Callable[[], object] | None = None) -> dict[str, list[float]]:
    """Time every side once per round, in turn, for ``rounds`` rounds; ``between`` resets state (untimed)."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            if between:
                between()
            times[name].append(timed(fn, name))
    return times


def report(title: str, times: dict[str, list[float]], floor: str, goal: tuple[str, float] | None = None) -> None:
    """Print medians side by side with each side's ratio to the floor (the bare peer)."""
    print(title)
    base = statistics.median(times[floor])
    cpu_base = statistics.median(CPU[floor][-len(times[floor]):])
    width = max(len(n) for n in times)
    for name, ts in times.items():
        med = statistics.median(ts)
        cpu = statistics.median(CPU[name][-len(ts):])
        print(f"  {name:<{width}}  wall median {med:7.3f} s (min {min(ts):.3f}, max {max(ts):.3f}, n={len(ts)}) "
              f"{med / base:6.3f}x | CPU median {cpu:7.3f} s {cpu / cpu_base:6.3f}x")
    if goal:
        name, limit = goal
        ratio = statistics.median(times[name]) / base
        cpu_ratio = statistics.median(CPU[name][-len(times[name]):]) / cpu_base
        paired = [t / b for t, b in zip(times[name], times[floor], strict=True)]  # the same round: the same host state
        print(f"  goal {name} <= {limit:.2f}x {floor}: wall {ratio:.3f}x -> {'met' if ratio <= limit else 'MISSED'}; "
              f"CPU {cpu_ratio:.3f}x -> {'met' if cpu_ratio <= limit else 'MISSED'}; for reference, the median of "
              f"each round's own wall ratio {statistics.median(paired):.3f}x (from {min(paired):.3f}x to "
              f"{max(paired):.3f}x), which the host's drift between rounds moves less")


def bench_parse(size_mb: float, rounds: int) -> None:
    """Parse the same real-series mbox with labkit and unidiff."""
    import unidiff

    data_dir = next((d for d in DATA_CANDIDATES if d.is_dir()), None)
    if data_dir is None:
        print("parse: skipped (shared/data/patches/eucalyptus is absent)")
        return
    one = b"".join(p.read_bytes() for p in sorted(data_dir.glob("*.patch")))
    data = one * int(size_mb * 1e6 // len(one) + 1)
    text = data.decode("utf-8", errors="replace")
    mb = len(data) / 1e6
    series = parse_mbox(data)
    files_labkit = sum(len(c.files) for c in series)
    ps = unidiff.PatchSet(text)
    times = interleaved({"unidiff PatchSet (diffs only)": lambda: unidiff.PatchSet(text),
                         "labkit parse_mbox (mails + diffs)": lambda: parse_mbox(data)}, rounds)
    print(f"parse  {mb:.1f} MB mbox of {len(series)} commits ({files_labkit} files; unidiff sees {len(ps)})")
    report("", times, "unidiff PatchSet (diffs only)")
    for name, ts in times.items():
        print(f"  {name}: {mb / statistics.median(ts):.1f} MB/s")


def make_series(work: Path, n_commits: int) -> tuple[Path, bytes]:
    """Create a repo with 60 files and a branch of ``n_commits`` commits; return (repo, its mbox)."""
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(60):
        (repo / f"mod{i:02d}.py").write_text("".join(f"def f{j}():\n    return {j}\n\n" for j in range(80)))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "series")
    for k in range(n_commits):
        path = repo / f"mod{k % 60:02d}.py"
        lines = path.read_text().split("\n")
        j = (k * 7) % 70
        lines[j * 3 + 1] = f"    return {j} + {k}  # change {k}"
        path.write_text("\n".join(lines))
        git(repo, "commit", "-q", "-am", f"BENCH-{k}: change {k}\n\nSigned-off-by: Bench <bench@example.com>")
    mbox = git(repo, "format-patch", "--stdout", "main..series")
    git(repo, "checkout", "-q", "main")
    return repo, mbox


def peer_flags(repo: Path, mbox: bytes) -> list[str]:
    """The ``git am`` arguments labkit uses for this series (from its dry run): the peer gets the same."""
    return apply_series(repo, mbox, onto="main", dry_run=True).am_args


def bench_apply(n_commits: int, rounds: int) -> None:
    """Apply the same series with bare git am (labkit's flags) and with labkit's apply_series."""
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    try:
        repo, mbox = make_series(work, n_commits)
        flags = peer_flags(repo, mbox)

        def reset() -> None:
            git(repo, "checkout", "-q", "--detach", "main")

        def bare() -> None:
            git(repo, *flags, input=mbox)

        def labkit() -> None:
            res = apply_series(repo, mbox, onto="main")
            assert res.status == "applied" and len(res.commits) == n_commits, res.message

        def naive() -> None:  # the figure this benchmark printed before: the peer without -3
            git(repo, "am", "--quiet", input=mbox)

        times = interleaved({f"bare git {' '.join(flags)}": bare, "labkit apply_series": labkit,
                             "old row: bare git am --quiet (not labkit's flags)": naive}, rounds, reset)
        print(f"\napply  {n_commits}-commit series ({len(mbox) / 1e3:.0f} kB) onto a 60-file repo, "
              f"{rounds} interleaved rounds; both run: git {' '.join(flags)}")
        report("", times, f"bare git {' '.join(flags)}", ("labkit apply_series", 1.10))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_large_repo(work: Path, n_files: int, depth: int, n_series: int) -> tuple[Path, bytes]:
    """Generate a repo of ``n_files`` files and ``depth`` commits of history (git fast-import) plus a series."""
    rng = random.Random(42)
    repo = work / "large"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dirs = max(1, n_files // 100)
    paths = [f"src/d{i % dirs:04d}/f{i:05d}.c" for i in range(n_files)]

    def content(path: str, version: int) -> bytes:
        return "".join(f"/* {path} v{version} line {k} */\nint {path[-10:-2].replace('/', '_')}_{k} = {k};\n"
                       for k in range(12)).encode()

    def blob(data: bytes) -> bytes:
        return b"data %d\n%s\n" % (len(data), data)

    out: list[bytes] = []
    stamp = 1_700_000_000
    out.append(b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> %d +0000\n" % stamp)
    out.append(blob(b"initial import"))
    for p in paths:
        out.append(b"M 100644 inline " + p.encode() + b"\n" + blob(content(p, 0)))
    versions = dict.fromkeys(paths, 0)
    for c in range(2, depth + 2):  # deep history: each commit touches a few files
        out.append(b"commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n"
                   % (c, stamp + c))
        out.append(blob(b"history %d" % c))
        out.append(b"from :%d\n" % (c - 1))
        for p in rng.sample(paths, 3):
            versions[p] += 1
            out.append(b"M 100644 inline " + p.encode() + b"\n" + blob(content(p, versions[p])))
    git(repo, "fast-import", "--quiet", input=b"".join(out))
    git(repo, "checkout", "-q", "-f", "main")
    git(repo, "checkout", "-q", "-b", "series")
    for k in range(n_series):  # the contributor's series: small changes in a few directories
        for p in rng.sample(paths, 2):
            f = repo / p
            f.write_bytes(f.read_bytes().replace(b"line 5 */", f"line 5, fixed in {k} */".encode(), 1))
        git(repo, "commit", "-q", "-am", f"BENCH-{k}: fix {k}\n\nSigned-off-by: Bench <bench@example.com>")
    mbox = git(repo, "format-patch", "--stdout", "main..series")
    git(repo, "checkout", "-q", "main")
    return repo, mbox


def bench_large(n_files: int, depth: int, n_series: int, rounds: int) -> None:
    """Bare git am, worktree add + am + remove, and labkit, on a large repository."""
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-large-"))
    try:
        t = time.perf_counter()
        repo, mbox = make_large_repo(work, n_files, depth, n_series)
        made = time.perf_counter() - t
        files = int(git(repo, "ls-files", "-z").count(b"\0"))
        commits = int(git(repo, "rev-list", "--count", "main"))
        size = sum(f.stat().st_size for f in repo.rglob("*") if f.is_file() and ".git" not in f.parts) / 1e6
        flags = peer_flags(repo, mbox)
        patch = work / "series.patch"
        patch.write_bytes(mbox)
        scratch = work / "wt"

        def reset() -> None:
            git(repo, "checkout", "-q", "--detach", "main")

        def bare() -> None:
            git(repo, *flags, input=mbox)

        def worktree() -> None:
            git(repo, "worktree", "add", "--quiet", "--detach", str(scratch), "main")
            git(scratch, *flags, input=mbox)
            git(repo, "worktree", "remove", "--force", str(scratch))

        def labkit() -> None:
            res = apply_series(repo, mbox, onto="main")
            assert res.status == "applied" and len(res.commits) == n_series, res.message

        def cli() -> None:
            subprocess.run([sys.executable, "-m", "labkit.cli", "pr", "apply", str(patch), "--repo", str(repo),
                            "--onto", "main", "--apply"], env={**ENV, "PYTHONPATH": str(ROOT)}, check=True,
                           capture_output=True)

        names = {f"bare git {' '.join(flags)}": bare, "git worktree add + am + remove": worktree,
                 "labkit apply_series": labkit, "labkit pr apply --apply (fresh process)": cli}
        times = interleaved(names, rounds, reset)
        print(f"\nlarge  {files} files ({size:.0f} MB checkout), {commits} commits of history (made in {made:.0f} s); "
              f"{n_series}-commit series ({len(mbox) / 1e3:.0f} kB), {rounds} interleaved rounds; all run: "
              f"git {' '.join(flags)}")
        report("", times, f"bare git {' '.join(flags)}", ("labkit apply_series", 1.5))
        print(f"  memory: bare git am peak {git_am_peak_mb(repo, flags, mbox):.0f} MB; a fresh labkit process's own "
              f"peak (VmHWM, git excluded) {labkit_peak_mb(repo, patch):.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Run the three benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, two rounds (smoke run)")
    args = ap.parse_args()
    if args.quick:
        bench_parse(8, 2)
        bench_apply(40, 2)
        bench_large(3_000, 300, 20, 2)
    else:
        bench_parse(50, 7)
        bench_apply(200, 11)
        bench_large(30_000, 3_000, 20, 7)
    print(f"\nmemory: this benchmark process's own peak (VmHWM, the 50 MB parse included) {vm_hwm_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
