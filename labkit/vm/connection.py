"""The libvirt connection: open once per URI, the event loop the embedded qemu driver needs, and the host seam.

This is the one module that opens libvirt connections and the leaf every other VM module imports it from.

- ``qemu:///embed?root=DIR`` (libvirt's daemon-less qemu driver) keeps its state in DIR across processes; it
  needs an event loop thread and a ``DIR/etc/qemu.conf``, which :func:`connect` provides.
- ``stand_in(uri, via=..., capabilities=...)`` makes ``uri`` open another libvirt (a test-driver host file) and,
  for drivers that report no CPU vendor, answer :func:`host_capabilities` with a given document. Everything
  above this seam reads a stand-in exactly as it reads the remote host it stands for.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from labkit.vm.errors import VmError

# One open connection per URI: libvirt's test driver keeps its state only while a connection is open.
_CONNECTIONS: dict[str, object] = {}
_LOCK = threading.RLock()
_EVENT_LOOP: list[threading.Thread] = []
MAX_EMBED_ROOT = 107 - len("/lib/qemu/domain-99999-12345678901234567890/monitor.sock")


@dataclass(frozen=True)
class StandIn:
    """What opening a URI really opens, and the capabilities document its host reports."""

    via: str
    capabilities: str | None = None


_STAND_INS: dict[str, StandIn] = {}


def default_uri() -> str:
    """Return the libvirt URI of the active profile (``test:///default`` in the sandbox)."""
    from labkit.config import get_profile

    return get_profile().section("libvirt").get("uri", "test:///default")


# libvirt's URI format (https://libvirt.org/uri.html): driver[+transport]://[username@][hostname][:port]/[path][?extra]
# with the drivers and transports libvirt documents; it has no place for a password.
LIBVIRT_DRIVERS = frozenset({"qemu", "test", "xen", "libxl", "lxc", "vbox", "vmwareplayer", "vmwarews", "vmwarefusion",
                             "esx", "gsx", "vpx", "hyperv", "bhyve", "ch", "vz", "openvz", "remote", "parallels",
                             "virtuozzo"})
LIBVIRT_TRANSPORTS = frozenset({"ssh", "libssh", "libssh2", "tls", "tcp", "unix", "ext"})
_URI_HINT = "e.g. test:///default, qemu:///system, qemu+ssh://host/system, qemu:///embed?root=/dir"


def check_uri(uri: object) -> str:
    """Return a libvirt URI (``driver[+transport]://[user@][host][:port]/path``), or raise VmError.

    Messages show the URI through ``labkit.http.mask_url``: a password typed into it never reaches them.
    """
    from labkit.http import mask_url

    if not isinstance(uri, str) or "://" not in uri or any(ord(c) < 33 for c in uri):
        shown = mask_url(uri)[:200] if isinstance(uri, str) else uri
        raise VmError(f"{shown!r} is not a libvirt URI", hint=_URI_HINT)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise VmError(f"{mask_url(uri)[:200]!r} is not a libvirt URI (bad host or port)", hint=_URI_HINT) from None
    driver, plus, transport = parts.scheme.partition("+")
    if driver not in LIBVIRT_DRIVERS or (plus and transport not in LIBVIRT_TRANSPORTS):
        raise VmError(f"{mask_url(uri)[:200]!r} names no libvirt driver{' and transport' if plus else ''}",
                      hint=f"{_URI_HINT}; drivers: {', '.join(sorted(LIBVIRT_DRIVERS))}")
    if parts.password is not None:
        raise VmError(f"the libvirt URI {mask_url(uri)[:200]!r} has a password in it",
                      hint="libvirt takes none in a URI: use ssh keys (qemu+ssh://user@host/system) or its auth.conf")
    return uri


def is_remote(uri: str) -> bool:
    """Tell whether a URI names another machine (its /proc, routes and sockets cannot be read from here)."""
    return bool(urlsplit(check_uri(uri)).hostname)


def embed_root(uri: str) -> Path | None:
    """Return DIR of a ``qemu:///embed?root=DIR`` URI, else None."""
    parts = urlsplit(uri)
    if parts.scheme == "qemu" and parts.path == "/embed":
        roots = parse_qs(parts.query).get("root")
        if not roots or not roots[0].startswith("/"):
            raise VmError(f"{uri} has no absolute root", hint="write qemu:///embed?root=/absolute/dir")
        if len(roots[0]) > MAX_EMBED_ROOT:
            # qemu's monitor socket lives at ROOT/lib/qemu/domain-ID-NAME/monitor.sock; a unix socket path is
            # at most 107 bytes, and libvirt shortens NAME to 20 characters
            raise VmError(f"the embedded libvirt root {roots[0]} is {len(roots[0])} characters long; qemu's monitor "
                          "socket under it would pass the 107-byte limit of a unix socket path",
                          hint=f"use a folder of at most {MAX_EMBED_ROOT} characters, e.g. /var/tmp/lab")
        return Path(roots[0])
    return None


def _prepare_embed(root: Path) -> None:
    """Give an embedded qemu driver its event loop and, when missing, a qemu.conf running qemu as this user."""
    import grp
    import pwd

    import libvirt

    conf = root / "etc" / "qemu.conf"
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        # remember_owner = 0: no ownership xattrs, whose boot timestamps draw warnings in every new process
        conf.write_text(f'# written by labkit for qemu:///embed?root={root}\nuser = "{user}"\ngroup = "{group}"\n'
                        'stdio_handler = "file"\nremember_owner = 0\n', encoding="utf-8")
    if not _EVENT_LOOP:
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        thread = threading.Thread(target=run, name="libvirt-events", daemon=True)
        thread.start()
        _EVENT_LOOP.append(thread)


def stand_in(uri: str, *, via: str, capabilities: str | None = None) -> None:
    """Make ``uri`` open ``via`` instead, its host reporting ``capabilities`` (a sandbox host for a remote one)."""
    check_uri(uri)
    check_uri(via)
    with _LOCK:
        disconnect(uri)
        _STAND_INS[uri] = StandIn(via, capabilities)


def drop_stand_in(uri: str) -> None:
    """Forget a stand-in (and close its connection)."""
    with _LOCK:
        disconnect(uri)
        _STAND_INS.pop(uri, None)


def connect(uri: str | None = None):  # -> libvirt.virConnect
    """Open (once per URI) a libvirt connection; errors become VmError."""
    uri = check_uri(uri or default_uri())
    target = _STAND_INS[uri].via if uri in _STAND_INS else uri
    root = embed_root(target)
    if root is not None and "libvirt" not in sys.modules and "LIBVIRT_LOG_OUTPUTS" not in os.environ:
        # the embedded driver logs its warnings to stderr; libvirt reads where to log once, at import
        (root / "log").mkdir(parents=True, exist_ok=True)
        os.environ["LIBVIRT_LOG_OUTPUTS"] = f"3:file:{root / 'log' / 'libvirt.log'}"
        try:
            import libvirt  # noqa: F401
        finally:
            del os.environ["LIBVIRT_LOG_OUTPUTS"]  # not for the processes this one starts
    import libvirt

    with _LOCK:
        conn = _CONNECTIONS.get(uri)
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        if root is not None:
            _prepare_embed(root)
        try:
            conn = libvirt.open(target)
        except libvirt.libvirtError as exc:
            from labkit.http import mask_urls

            if root is not None and "already open with path" in (exc.get_error_message() or ""):
                raise VmError(f"cannot open {uri}: this process already opened another embedded libvirt root "
                              f"({exc.get_error_message()})",
                              hint="libvirt allows one qemu:///embed root per process: use the same root, or run "
                                   "the other lab in a new process") from None
            raise VmError(f"cannot connect to libvirt at {uri} ({mask_urls(exc.get_error_message() or '')})",
                          hint="check the URI (test:///default, qemu:///system, qemu+ssh://host/system, "
                               "qemu:///embed?root=/dir) and that libvirt runs there") from None
        if not _CONNECTIONS:
            atexit.register(disconnect)  # close before the interpreter tears libvirt's module down
        _CONNECTIONS[uri] = conn
        return conn


def is_sandbox(uri: str) -> bool:
    """Tell whether a URI opens libvirt's test driver: a fake host whose files are not this machine's."""
    import libvirt

    try:
        return connect(uri).getType().lower() == "test"
    except libvirt.libvirtError:
        return False


def files_here(uri: str) -> bool:
    """Tell whether the host's files are this machine's files (a local, real hypervisor)."""
    return not is_remote(uri) and not is_sandbox(uri)


def host_capabilities(uri: str) -> str:
    """Return the host's libvirt capabilities XML (what a stand-in was given, else ``getCapabilities()``)."""
    stand = _STAND_INS.get(uri)
    if stand is not None and stand.capabilities is not None:
        return stand.capabilities
    import libvirt

    try:
        return connect(uri).getCapabilities()
    except libvirt.libvirtError as exc:
        raise VmError(f"cannot read the capabilities of {uri} ({exc.get_error_message()})",
                      hint="check the connection and that the libvirt user may read the host") from None


def disconnect(uri: str | None = None) -> None:
    """Close cached connections (all, or one URI); a test driver forgets its state when closed."""
    with _LOCK:
        for key in [uri] if uri else list(_CONNECTIONS):
            conn = _CONNECTIONS.pop(key, None)
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a dead connection is not an error
                    pass
