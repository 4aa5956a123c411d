"""The libvirt connection of the active profile, opened once per URI (a leaf: it imports no other vm module)."""

from __future__ import annotations

from labkit.vm.errors import VmError

__all__ = ["connect", "default_uri", "disconnect"]

# One open connection per URI: libvirt's test driver keeps its state only while a connection is open.
_CONNECTIONS: dict[str, object] = {}


def default_uri() -> str:
    """Return the libvirt URI of the active profile (``test:///default`` in the sandbox)."""
    from labkit.config import get_profile

    return get_profile().section("libvirt").get("uri", "test:///default")


def connect(uri: str | None = None):  # -> libvirt.virConnect
    """Open (once per URI) a libvirt connection; errors become VmError."""
    import libvirt

    uri = uri or default_uri()
    conn = _CONNECTIONS.get(uri)
    if conn is not None:
        try:
            if conn.isAlive():
                return conn
        except libvirt.libvirtError:
            pass
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise VmError(f"cannot connect to libvirt at {uri} ({exc.get_error_message()})",
                      hint="check the URI (test:///default, qemu:///system, qemu+ssh://host/system) and that "
                           "libvirtd runs there") from None
    _CONNECTIONS[uri] = conn
    return conn


def disconnect(uri: str | None = None) -> None:
    """Close cached connections (all, or one URI); a test driver forgets its state when closed."""
    for key in [uri] if uri else list(_CONNECTIONS):
        conn = _CONNECTIONS.pop(key, None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection is not an error
                pass
