"""Benchmark the PR review job side by side with its peers, printing ratios.

1. Parse a 50 MB mbox made of the real eucalyptus series (shared/data/patches/eucalyptus), with
   labkit's ``parse_mbox`` and with PyPI ``unidiff`` (``PatchSet``) on the same text: MB/s and ratio.
2. Apply a 200-commit series made with real git: labkit ``apply_series`` (scratch worktree,
   ``git am -3``, cleanup) vs plain ``git am`` in the maintainer's checkout of the same repository:
   seconds and ratio (goal <= 1.15x). Rounds are interleaved and the best is compared, because the
   machine is shared (the medians are printed too).

    .venv/bin/python benchmarks/patch_review.py            # full sizes
    .venv/bin/python benchmarks/patch_review.py --quick    # 8 MB, 40 commits, one round
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
    """Run real git quietly and return stdout."""
    return subprocess.run(["git", "-c", "gc.auto=0", *args], cwd=cwd, env=ENV, input=input,
                          capture_output=True, check=True).stdout


def best(fn, rounds: int) -> float:
    """Return the median wall time of ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


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
    t_lab = best(lambda: parse_mbox(data), rounds)
    t_uni = best(lambda: unidiff.PatchSet(text), rounds)
    print(f"parse  {mb:.1f} MB mbox of {len(series)} commits ({files_labkit} files; unidiff sees {len(ps)})")
    print(f"  labkit parse_mbox   {t_lab:7.3f} s  {mb / t_lab:7.1f} MB/s  (mail headers, messages, diffs)")
    print(f"  unidiff PatchSet    {t_uni:7.3f} s  {mb / t_uni:7.1f} MB/s  (diffs only)")
    print(f"  ratio labkit/unidiff time: {t_lab / t_uni:.2f}x  (labkit is {t_uni / t_lab:.1f}x faster)")


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


def bench_apply(n_commits: int, rounds: int) -> None:
    """Apply the same series with plain git am and with labkit's apply_series."""
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    try:
        repo, mbox = make_series(work, n_commits)
        series = parse_mbox(mbox)

        # Plain git am as the maintainer runs it: in their own checkout of the same repository,
        # on a detached HEAD at the target (reset afterwards, untimed).
        def run_plain() -> None:
            git(repo, "am", "--quiet", input=mbox)

        def run_labkit() -> None:
            res = apply_series(repo, series, onto="main")
            assert res.status == "applied" and len(res.commits) == n_commits, res.message

        t_parse = best(lambda: parse_mbox(mbox), rounds)
        plain_times: list[float] = []
        lab_times: list[float] = []
        for _ in range(rounds):  # interleaved, so load from other processes hits both sides alike
            git(repo, "checkout", "-q", "--detach", "main")
            plain_times.append(best(run_plain, 1))
            git(repo, "checkout", "-q", "main")
            lab_times.append(best(run_labkit, 1))
        t_plain, t_lab = min(plain_times), min(lab_times)
        med = statistics.median(lab_times) / statistics.median(plain_times)
        print(f"apply  {n_commits}-commit series ({len(mbox) / 1e3:.0f} kB), best of {rounds} interleaved rounds")
        print(f"  plain git am                    {t_plain:7.3f} s  (median {statistics.median(plain_times):.3f})")
        print(f"  labkit apply_series (worktree)  {t_lab:7.3f} s  (median {statistics.median(lab_times):.3f};"
              f" + parse {t_parse:.3f} s)")
        print(f"  ratio labkit/plain: {t_lab / t_plain:.3f}x (medians {med:.3f}x)   with parse: "
              f"{(t_lab + t_parse) / t_plain:.3f}x   goal <= 1.15x: {'met' if t_lab / t_plain <= 1.15 else 'MISSED'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Run both benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one round (smoke run)")
    args = ap.parse_args()
    size, commits, rounds = (8, 40, 1) if args.quick else (50, 200, 7)
    bench_parse(size, rounds)
    bench_apply(commits, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
