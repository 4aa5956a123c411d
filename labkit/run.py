"""Parameterised, recorded runbook runs: ``labkit run NOTEBOOK -p name=value`` on papermill.

    import labkit
    record = labkit.run("notebooks/02-jql-search.ipynb", {"PROJECT": "DEMO"})
    record.path, record.html, record.status          # runs/20260512-141502-02-jql-search.ipynb ...
    labkit.run.list_runs()                           # every past run, newest last

papermill injects the parameters after the ``parameters`` cell and runs the kernel; labkit keeps
the executed notebook only after :mod:`labkit.redact` has taken every known secret out of it,
writes an HTML copy with nbconvert, and appends one line per run to ``runs/index.jsonl``. papermill
never writes a file itself here: its output goes to an in-memory I/O handler, so no unscrubbed
copy ever reaches the disk, not even while a cell runs.

This module is callable (``labkit.run(...)`` is :func:`run_notebook`): ``import labkit.run`` would
otherwise replace a ``labkit.run`` function by the module, and ``import labkit`` must not load papermill.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import logging
import math
import os
import sys
import threading
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import RunError

RUNS_ENV = "LABKIT_RUNS_DIR"
INDEX = "index.jsonl"
MEMORY = "labkit-memory://"
_memory: dict[str, str] = {}
_env_lock = threading.Lock()


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: what ran with which parameters, how it ended and where it was saved."""

    started: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | failed
    duration_s: float = 0.0
    path: str = ""
    html: str = ""
    profile: str = ""
    error: str = ""


def runs_dir(out: str | Path | None = None) -> Path:
    """Return where runs are kept: ``out``, else ``$LABKIT_RUNS_DIR``, else ``runs/`` in the current folder."""
    return Path(out or os.environ.get(RUNS_ENV) or "runs").expanduser()


def parse_parameters(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``["name=value", ...]`` from the command line into a dict (values stay text until typed)."""
    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise RunError(f"-p {pair!r} is not name=value", hint="write -p name=value, e.g. -p PROJECT=DEMO")
        params[name] = value
    return params


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Return the parameters the notebook's ``parameters`` cell declares (name, type, default), via papermill."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def resolve_parameters(given: dict[str, Any], declared: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Match given names to declared ones (exact, else the one that differs only in case) and type text values.

    Text from the command line becomes a Python literal (``10``, ``True``, ``None``, ``[1, 2]``) unless
    the declared default is a string; returns the parameters and the names the notebook does not declare.
    """
    lower: dict[str, list[str]] = {}
    for name in declared:
        lower.setdefault(name.lower(), []).append(name)
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in given.items():
        same = lower.get(name.lower(), [])
        target = name if name in declared else (same[0] if len(same) == 1 else None)
        if target is None:
            unknown.append(name)
            target = name
        kind = (declared.get(target) or {}).get("inferred_type_name", "")
        out[target] = _typed(value, kind)
    return out, unknown


def _typed(value: Any, kind: str) -> Any:
    """Return a command-line text as the literal it spells, unless the parameter is declared a string."""
    if not isinstance(value, str) or kind == "str":
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


class _MemoryIO:
    """A papermill I/O handler that keeps notebooks in memory: nothing unscrubbed is written to disk."""

    def read(self, path: str) -> str:
        """Return the notebook text stored under ``path``."""
        return _memory[path]

    def write(self, buf: str, path: str) -> None:
        """Keep the latest notebook text papermill saved under ``path``."""
        _memory[path] = buf

    def listdir(self, path: str) -> list[str]:
        """List nothing: the memory store has no folders."""
        return []

    def pretty_path(self, path: str) -> str:
        """Return the path as it is."""
        return path


def _register_memory_io() -> None:
    """Register the in-memory handler with papermill once."""
    from papermill.iorw import papermill_io

    if not any(scheme == MEMORY for scheme, _ in papermill_io._handlers):
        papermill_io.register(MEMORY, _MemoryIO())


def run_notebook(notebook: str | Path, parameters: dict[str, Any] | None = None, *, profile: str | None = None,
                 out: str | Path | None = None, cell_timeout: float | None = None,
                 kernel_name: str | None = None, warn=None) -> RunRecord:
    """Run a notebook with parameters, save it (secrets scrubbed) and an HTML copy; return the run's record.

    A failed cell raises :class:`labkit.errors.RunError` naming the cell and its error; the failed run
    is saved and listed too (``error.record``). ``warn`` receives one line per unknown parameter
    (default: stderr).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from labkit.kernel_client import KernelManager  # a reply's missed wake-up never stalls the run
    from labkit.redact import scrub_notebook, scrub_text, secret_values

    src = Path(notebook).expanduser()
    if not src.is_file():
        raise RunError(f"no notebook at {src}", hint="give the path of a .ipynb file, e.g. notebooks/02-jql-search.ipynb")
    try:
        text = src.read_text(encoding="utf-8")
        nbformat.reads(text, as_version=4)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{src} is not a notebook ({type(exc).__name__})", hint="give a .ipynb file saved by Jupyter") from None
    if cell_timeout is not None and not 0 < cell_timeout <= 7 * 24 * 3600:
        raise RunError(f"a cell timeout of {cell_timeout!r} seconds lets no cell run",
                       hint="give the seconds a cell may take, above 0 and at most a week")
    if profile:
        from labkit.config import get_profile

        get_profile(profile)  # an unknown profile is refused before anything runs or is saved
    folder = runs_dir(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot keep runs in {folder} ({exc.strerror})", hint="give --out a folder you can write") from None
    given = dict(parameters or {})
    declared = declared_parameters(src)
    params, unknown = resolve_parameters(given, declared)
    for name in unknown:
        known = ", ".join(declared) or "none"
        (warn or _warn)(f"{src.name} declares no parameter {name!r} (it declares: {known}); passed as given")
    _register_memory_io()
    started = dt.datetime.now().astimezone()
    stem = f"{started:%Y%m%d-%H%M%S}-{src.stem}"
    key_in, key_out = f"{MEMORY}in/{id(text)}-{stem}.ipynb", f"{MEMORY}out/{id(text)}-{stem}.ipynb"
    _memory[key_in] = text
    failure: PapermillExecutionError | None = None
    other: str = ""
    t0 = time.monotonic()
    logging.getLogger("papermill").setLevel(logging.ERROR)
    try:
        with _environment(profile), _kernel_stderr_quiet():
            papermill.execute_notebook(key_in, key_out, parameters=params, cwd=str(src.parent.resolve()),
                                       kernel_name=kernel_name, progress_bar=False, log_output=False,
                                       execution_timeout=_whole_seconds(cell_timeout),
                                       kernel_manager_class=KernelManager)
    except PapermillExecutionError as exc:
        failure = exc
    except Exception as exc:  # noqa: BLE001 - a dead kernel or a timeout is reported, never a traceback
        other = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    duration = time.monotonic() - t0
    _memory.pop(key_in, None)
    executed = _memory.pop(key_out, None)
    nb = nbformat.reads(executed, as_version=4) if executed else nbformat.reads(text, as_version=4)
    secrets = secret_values()
    error = _describe(failure, nb) if failure else other
    meta = nb.metadata.setdefault("papermill", {})
    meta["input_path"], meta["output_path"] = str(src), ""
    record = RunRecord(started=started.isoformat(timespec="seconds"), notebook=str(src),
                       parameters=params, status="failed" if error else "ok", duration_s=round(duration, 1),
                       profile=profile or os.environ.get("LABKIT_PROFILE") or "", error=scrub_text(error, secrets))
    path, html = _unique(folder, stem)
    record = RunRecord(**{**asdict(record), "path": str(path), "html": str(html),
                          "parameters": json.loads(scrub_text(json.dumps(params, default=str), secrets))})
    meta["output_path"] = str(path)
    nb.metadata["labkit"] = {"run": asdict(record)}
    scrub_notebook(nb, secrets)
    _write_atomic(path, nbformat.writes(nb))
    _write_atomic(html, scrub_text(_html(nb), secrets))
    _append_index(folder, record)
    if error:
        raise RunError(f"{src.name} failed {error}", hint=f"the executed notebook is {path}", record=record)
    return record


def _whole_seconds(seconds: float | None) -> int | None:
    """Return a cell timeout as the whole seconds nbclient takes (its ``timeout`` is an int): rounded up."""
    return None if seconds is None else math.ceil(seconds)


def _describe(exc: Any, nb: Any) -> str:
    """Return one line naming the failed cell (In [n] and its first line) and its error."""
    first = ""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("execution_count") == exc.exec_count:
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            break
    where = f"in cell In [{exc.exec_count}]" + (f" ({first[:80]})" if first else "")
    value = " ".join(str(exc.evalue).split())[:300]
    return f"{where}: {exc.ename}: {value}" if value else f"{where}: {exc.ename}"


@contextlib.contextmanager
def _environment(profile: str | None):
    """Set ``LABKIT_PROFILE`` for the kernel papermill starts, then restore it."""
    if profile is None:
        yield
        return
    with _env_lock:
        old = os.environ.get("LABKIT_PROFILE")
        os.environ["LABKIT_PROFILE"] = profile
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("LABKIT_PROFILE", None)
            else:
                os.environ["LABKIT_PROFILE"] = old


@contextlib.contextmanager
def _kernel_stderr_quiet():
    """Send what the kernel process prints on its own stderr (transport warnings) nowhere while it runs.

    Cell output still reaches the notebook through the kernel's messages; only the kernel's own
    log lines, which would otherwise interleave with ``labkit run``'s one-line result, go.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _unique(folder: Path, stem: str) -> tuple[Path, Path]:
    """Return an unused ``<stem>.ipynb`` / ``.html`` pair in ``folder`` (``-2``, ``-3``... on a clash)."""
    n, name = 1, stem
    while (folder / f"{name}.ipynb").exists() or (folder / f"{name}.html").exists():
        n += 1
        name = f"{stem}-{n}"
    return folder / f"{name}.ipynb", folder / f"{name}.html"


def _html(nb: Any) -> str:
    """Return the notebook as a standalone HTML page (nbconvert's lab template)."""
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


def _write_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file in the same folder, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _append_index(folder: Path, record: RunRecord) -> None:
    """Append the run to the folder's index, one JSON object per line."""
    line = json.dumps(asdict(record), default=str) + "\n"
    fd = os.open(folder / INDEX, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(line)


def list_runs(out: str | Path | None = None) -> list[RunRecord]:
    """Return every run recorded in the runs folder, oldest first (a torn last line is skipped)."""
    folder = runs_dir(out)
    if folder.exists() and not folder.is_dir() or any(p.is_file() for p in folder.parents):
        raise RunError(f"{folder} is not a folder of runs", hint="give --out the folder labkit run saved runs in")
    index = folder / INDEX
    if not index.is_file():
        return []
    records = []
    names = {f.name for f in RunRecord.__dataclass_fields__.values()}
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "notebook" in data:
            records.append(RunRecord(**{k: v for k, v in data.items() if k in names}))
    return records


def run_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    """Return runs as table rows: started, notebook, parameters, status, duration, path."""
    return [{"started": r.started, "notebook": Path(r.notebook).name,
             "parameters": ", ".join(f"{k}={v!r}" for k, v in r.parameters.items()),
             "status": r.status, "duration_s": r.duration_s, "path": r.path,
             "error": r.error} for r in records]


def _warn(line: str) -> None:
    """Print a warning line on stderr."""
    print(f"labkit: warning: {line}", file=sys.stderr)


def register(sub) -> None:
    """Add the ``run`` and ``runs`` commands."""
    from labkit.cli_output import add_format_option, bounded_seconds

    p = sub.add_parser("run", help="run a runbook with parameters and keep the executed notebook and HTML")
    p.add_argument("notebook", help="the notebook to run, e.g. notebooks/02-jql-search.ipynb")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for the parameters cell (repeat for more)")
    p.add_argument("--profile", dest="run_profile", help="profile the runbook uses (default: $LABKIT_PROFILE or sandbox)")
    p.add_argument("--out", help="folder of the runs (default: $LABKIT_RUNS_DIR or ./runs)")
    p.add_argument("--cell-timeout", type=bounded_seconds(7 * 24 * 3600.0),
                   help="seconds a cell may run (default: no limit)")
    p.set_defaults(func=_run_command)
    r = sub.add_parser("runs", help="list past runs: notebook, parameters, status, duration, path")
    r.add_argument("--out", help="folder of the runs (default: $LABKIT_RUNS_DIR or ./runs)")
    add_format_option(r)
    r.set_defaults(func=_runs_command)


def _run_command(args) -> int:
    """Run ``labkit run`` and print where the run was saved."""
    profile = args.run_profile or getattr(args, "profile", None)
    record = run_notebook(args.notebook, parse_parameters(args.parameter), profile=profile, out=args.out,
                          cell_timeout=args.cell_timeout)
    print(f"{Path(record.notebook).name}: ok in {record.duration_s:g} s")
    print(f"notebook: {record.path}")
    print(f"html:     {record.html}")
    return 0


def _runs_command(args) -> int:
    """Print the table of past runs."""
    from labkit.cli_output import print_rows

    print_rows(run_rows(list_runs(args.out)), args.format,
               ["started", "notebook", "parameters", "status", "duration_s", "path", "error"])
    return 0


class _CallableModule(types.ModuleType):
    """This module's type: calling ``labkit.run(...)`` runs :func:`run_notebook`."""

    def __call__(self, *args: Any, **kwargs: Any) -> RunRecord:
        """Run a notebook (see :func:`run_notebook`)."""
        return run_notebook(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
