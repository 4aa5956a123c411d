"""Start, record, check and stop the sandbox services as child processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.config import Secret, state_home
from labkit.errors import SandboxError
from labkit.locks import exclusive
from labkit.sandbox.registry import ServiceSpec, available_services

STATE_FILE = "services.json"
LOCK_FILE = "lock"
LOCK_WAIT = 300.0  # seconds a start or stop waits for another one in the same run directory


def run_dir() -> Path:
    """Return the sandbox run directory: ``$LABKIT_RUN_DIR`` or ``~/.local/state/labkit/sandbox``."""
    env = os.environ.get("LABKIT_RUN_DIR")
    if env:
        return Path(env).expanduser()
    return state_home() / "sandbox"


@dataclass
class ServiceState:
    """One started service as recorded in the run directory."""

    name: str
    pid: int
    port: int
    url: str
    log: str
    started: float
    argv: list[str]
    secret: str = ""

    def __repr__(self) -> str:
        """Show the service without its secret."""
        return f"ServiceState(name={self.name!r}, pid={self.pid}, url={self.url!r})"


@dataclass(frozen=True)
class StatusRow:
    """One row of ``labkit sandbox status``."""

    service: str
    state: str  # running | stopped | dead
    url: str
    pid: int | None
    description: str
    log: str


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    """Tell whether a process exists (and is not a zombie we own)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # reap our own zombie children
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _make_run_dir(rd: Path) -> None:
    """Create the run directory, or raise SandboxError saying why it cannot be one."""
    try:
        rd.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "not a directory" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror
        raise SandboxError(f"cannot use {rd} as the sandbox run directory ({why})",
                           hint="point LABKIT_RUN_DIR at a directory you can write, e.g. /tmp/labkit-run") from None


@contextlib.contextmanager
def _locked(rd: Path, wait: float = LOCK_WAIT):
    """Hold the run directory's lock: one start or stop at a time, whichever process runs it."""
    _make_run_dir(rd)

    def busy(waited: float) -> SandboxError:
        """The error for a start or stop that waited too long."""
        return SandboxError(f"another labkit has been starting or stopping the sandbox in {rd} for over {waited:.0f} s",
                            hint="wait for it to finish, or stop it, then try again")

    with exclusive(rd / LOCK_FILE, wait=wait, busy=busy):
        yield


def _load(rd: Path) -> dict[str, ServiceState]:
    """Read the services recorded in the run directory (none when it has no record)."""
    path = rd / STATE_FILE
    if not path.is_file():
        return {}
    try:
        return {name: ServiceState(**entry) for name, entry in json.loads(path.read_text()).items()}
    except (ValueError, TypeError, AttributeError):
        raise SandboxError(f"{path} is corrupt", hint="stop the processes it names by hand, then delete it") from None


def _save(rd: Path, states: dict[str, ServiceState]) -> None:
    """Record the started services atomically, readable only by their owner (it holds their secrets)."""
    _make_run_dir(rd)
    tmp = rd / (STATE_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds service secrets
    with os.fdopen(fd, "w") as f:
        json.dump({n: asdict(s) for n, s in states.items()}, f, indent=2)
    os.replace(tmp, rd / STATE_FILE)


def _healthy(spec: ServiceSpec, state: ServiceState) -> bool:
    """Tell whether a recorded service's process lives and its health URL answers."""
    import urllib.request

    if not pid_alive(state.pid):
        return False
    try:
        with urllib.request.urlopen(state.url + spec.health_path, timeout=2):  # noqa: S310 - loopback only
            return True
    except Exception as exc:  # noqa: BLE001 - any HTTP answer means the server is up
        return hasattr(exc, "code")


def _resolve(names: list[str] | None) -> dict[str, ServiceSpec]:
    """Return the specs of the named services (all when none are named), or SandboxError for an unknown name."""
    specs = available_services()
    if not names:
        return specs
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise SandboxError(f"no sandbox service named {', '.join(unknown)}",
                           hint=f"choose from: {', '.join(specs) or 'none installed'}")
    return {n: specs[n] for n in names}


def _started_by_us(state: ServiceState) -> bool:
    """Tell whether the recorded pid still runs the command the sandbox started (not a reused pid)."""
    try:
        with open(f"/proc/{state.pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except OSError:
        return False
    return [a.decode(errors="surrogateescape") for a in cmdline if a] == [str(a) for a in state.argv]


def _kill_group(pid: int, timeout: float = 10.0) -> None:
    """Stop a service's whole process group: SIGTERM, then SIGKILL if it lingers."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not pid_alive(pid) and not _group_alive(pgid):
                return
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Tell whether any process of a process group still runs (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(names: list[str] | None = None, *, rd: Path | None = None) -> list[ServiceState]:
    """Start the named services (default: all) unless already running; return their states."""
    rd = rd or run_dir()
    specs = _resolve(names)
    with _locked(rd):
        return _start_locked(specs, rd)


def _start_locked(specs: dict[str, ServiceSpec], rd: Path) -> list[ServiceState]:
    """Start the services of ``specs`` not yet healthy in ``rd`` (the caller holds the lock)."""
    states = _load(rd)
    started: list[ServiceState] = []
    for name, spec in specs.items():
        old = states.get(name)
        if old and _healthy(spec, old):
            started.append(old)
            continue
        if old and _started_by_us(old):
            _kill_group(old.pid)
        state = _spawn(spec, rd)
        states[name] = state
        _save(rd, states)
        started.append(state)
    return started


def _spawn(spec: ServiceSpec, rd: Path) -> ServiceState:
    """Start one service on a free loopback port and wait until it answers; SandboxError if it never does."""
    workdir = rd / spec.name
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(3):  # a port can be taken between free_port() and bind: try another
        port = free_port()
        argv = spec.argv(port, workdir)
        log_path = rd / f"{spec.name}.log"
        secret = secrets.token_urlsafe(18)
        env = {**os.environ, **spec.env, "LABKIT_SANDBOX_SECRET": secret}
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=workdir, start_new_session=True)
        state = ServiceState(spec.name, proc.pid, port, spec.url(port), str(log_path), time.time(), argv, secret)
        end = time.monotonic() + spec.ready_timeout
        while time.monotonic() < end:
            if proc.poll() is not None:
                break
            if port_open(port) and _healthy(spec, state):
                return state
            time.sleep(0.1)
        _kill_group(proc.pid)
        proc.wait(timeout=10)
        tail = Path(log_path).read_text(errors="replace").strip().splitlines()[-5:]
        last_error = " | ".join(tail)
    raise SandboxError(f"sandbox service {spec.name} did not start ({last_error or 'no output'})",
                       hint=f"read {rd / (spec.name + '.log')}; is its package installed (make test installs all)?")


def stop(names: list[str] | None = None, *, rd: Path | None = None) -> list[str]:
    """Stop exactly the services this run directory started; return their names."""
    rd = rd or run_dir()
    if not rd.is_dir():  # nothing was ever started here: nothing to stop, nothing to create
        return _stop_locked(names, rd)
    with _locked(rd):
        return _stop_locked(names, rd)


def _stop_locked(names: list[str] | None, rd: Path) -> list[str]:
    """Stop the named services recorded in ``rd`` (the caller holds the lock)."""
    states = _load(rd)
    unknown = [n for n in names or [] if n not in states and n not in available_services()]
    if unknown:
        raise SandboxError(f"no sandbox service named {', '.join(unknown)}",
                           hint=f"choose from: {', '.join({**available_services(), **states}) or 'none installed'}")
    wanted = names or list(states)
    stopped = []
    for name in wanted:
        state = states.pop(name, None)
        if state is None:
            continue
        if _started_by_us(state):
            _kill_group(state.pid)
        end = time.monotonic() + 10
        while port_open(state.port) and time.monotonic() < end:
            time.sleep(0.05)
        stopped.append(name)
    if states or (rd / STATE_FILE).exists():
        _save(rd, states)
    return stopped


def status(*, rd: Path | None = None) -> list[StatusRow]:
    """Return one row per known service: running, dead (recorded but gone) or stopped."""
    rd = rd or run_dir()
    states = _load(rd)
    rows = []
    for name, spec in available_services().items():
        st = states.get(name)
        if st is None:
            rows.append(StatusRow(name, "stopped", "", None, spec.description, ""))
        else:
            state = "running" if _healthy(spec, st) else "dead"
            rows.append(StatusRow(name, state, st.url, st.pid, spec.description, st.log))
    return rows


def service(name: str, *, rd: Path | None = None) -> ServiceState:
    """Return the running state of one service, or a clear error telling how to start it."""
    rd = rd or run_dir()
    st = _load(rd).get(name)
    if st is None or not pid_alive(st.pid):
        raise SandboxError(f"the sandbox {name} service is not running",
                           hint=f"start it with: labkit sandbox start {name}")
    return st


def url(name: str, *, rd: Path | None = None) -> str:
    """Return the base URL of a running sandbox service."""
    return service(name, rd=rd).url


def secret(name: str, *, rd: Path | None = None) -> Secret:
    """Return the random secret (password/token) of a running sandbox service."""
    return Secret(service(name, rd=rd).secret, f"sandbox {name}")
