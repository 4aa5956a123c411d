"""Profiles (one TOML file, like awscli's) and secrets (environment or keyring, never stored).

A profile names the systems a runbook talks to. The built-in ``sandbox`` profile is the
default and points every job at the local stand-ins started by ``labkit sandbox start``.

``~/.config/labkit/config.toml`` (or ``$LABKIT_CONFIG``)::

    [profiles.prod.jira]
    url = "https://jira.example.com"
    user = "alice"
    token_env = "PROD_JIRA_TOKEN"     # the secret itself lives in the environment or keyring

    [profiles.prod.libvirt]
    uri = "qemu+ssh://hv1/system"
"""

from __future__ import annotations

import hmac
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import ConfigError

SANDBOX = "sandbox"
KEYRING_SERVICE = "labkit"
# Keys whose value would be a secret: refused in the profiles file.
_SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key", "private_key")
_SECRET_REF_SUFFIXES = ("_env", "_keyring")


def config_path() -> Path:
    """Return the profiles file in use: ``$LABKIT_CONFIG`` or ``~/.config/labkit/config.toml``."""
    env = os.environ.get("LABKIT_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "labkit" / "config.toml"


def state_home() -> Path:
    """Return the folder labkit keeps its state under: ``$XDG_STATE_HOME/labkit`` or ``~/.local/state/labkit``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "labkit"


class Secret:
    """A secret value that never shows itself in a repr, str, log line or notebook output."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        """Hold a secret value and where it came from."""
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """Return the secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        """Show where the secret came from, never the value."""
        return f"Secret(from {self.source}, ******)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        """Compare two secrets by value in constant time, without revealing either."""
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8", "surrogatepass"),
                                   other._value.encode("utf-8", "surrogatepass"))

    def __hash__(self) -> int:
        """Hash by value so secrets can be dict keys."""
        return hash(self._value)

    def __bool__(self) -> bool:
        """Tell whether the secret is non-empty."""
        return bool(self._value)


def get_secret(name: str, *, env: str | None = None, keyring_user: str | None = None,
               required: bool = True) -> Secret | None:
    """Look a secret up in the environment variable ``env``, then in the keyring.

    ``name`` is what the secret is for (used in the error message and as the keyring
    user when ``keyring_user`` is not given).
    """
    if env and os.environ.get(env):
        return Secret(os.environ[env], f"${env}")
    user = keyring_user or name
    try:
        import keyring  # optional; a missing or empty backend just means "not there"

        value = keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # noqa: BLE001 - any keyring backend failure means the secret is not there
        value = None
    if value:
        return Secret(value, f"keyring {KEYRING_SERVICE}/{user}")
    if required:
        where = f"environment variable {env}" if env else "no environment variable"
        raise ConfigError(
            f"no secret for {name} ({where}, nothing in keyring service {KEYRING_SERVICE!r} user {user!r})",
            hint=(f"export {env}=... or " if env else "")
            + f"run: python -m keyring set {KEYRING_SERVICE} {user}",
        )
    return None


def keyring_usable() -> bool:
    """Tell whether a real keyring backend is configured (not keyring's fail or null backend)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring install is no keyring
        return False
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    return not (isinstance(backend, chainer.ChainerBackend) and not backend.backends)


def set_secret(name: str, value: str) -> None:
    """Store a secret in the keyring under service ``labkit`` (never in a file of labkit's)."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, name, value)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"could not store {name} in the keyring ({exc})",
                          hint="export the secret as an environment variable instead") from None


@dataclass(frozen=True)
class Profile:
    """One named set of endpoints: ``profile.section("jira")`` gives that system's settings."""

    name: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_sandbox(self) -> bool:
        """Tell whether this is the built-in sandbox profile."""
        return self.name == SANDBOX

    def section(self, name: str) -> dict[str, Any]:
        """Return the settings of one system (``jira``, ``aws``, ``libvirt``, ``forge``), maybe empty."""
        return dict(self.sections.get(name, {}))

    def secret(self, section: str, key: str = "token", *, required: bool = True) -> Secret | None:
        """Resolve ``<key>_env`` / ``<key>_keyring`` of a section into a :class:`Secret`."""
        s = self.sections.get(section, {})
        return get_secret(f"{self.name}.{section}.{key}", env=s.get(f"{key}_env"),
                          keyring_user=s.get(f"{key}_keyring"), required=required)


def _sandbox_profile() -> Profile:
    """Return the built-in profile that points every job at the local sandbox."""
    return Profile(SANDBOX, {
        "libvirt": {"uri": "test:///default"},
        "jira": {"sandbox": True, "user": "admin"},
        "aws": {"sandbox": True},
        "forge": {"sandbox": True},
    })


def _check_no_secrets(path: Path, where: str, table: dict[str, Any]) -> None:
    """Raise ConfigError if a table of the profiles file ``path`` holds a secret-looking key."""
    for key, value in table.items():
        if isinstance(value, dict):
            _check_no_secrets(path, f"{where}.{key}", value)
            continue
        low = key.lower()
        if any(w in low for w in _SECRET_WORDS) and not low.endswith(_SECRET_REF_SUFFIXES):
            raise ConfigError(
                f"{path}: {where}.{key} holds a secret; labkit never reads secrets from files",
                hint=f"remove it, export it as an environment variable and write {key}_env = \"VAR\" instead",
            )


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Read every profile from the profiles file, plus the built-in ``sandbox`` profile."""
    path = path or config_path()
    profiles = {SANDBOX: _sandbox_profile()}
    if not path.exists():
        return profiles
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})", hint="fix the line it names") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the profiles file {path} ({why})",
                          hint="point LABKIT_CONFIG at a TOML file (default ~/.config/labkit/config.toml)") from None
    for name, sections in (data.get("profiles") or {}).items():
        if not isinstance(sections, dict):
            raise ConfigError(f"{path}: profiles.{name} must be a table", hint=f"write [profiles.{name}.jira] ...")
        _check_no_secrets(path, f"profiles.{name}", sections)
        profiles[name] = Profile(name, {k: dict(v) for k, v in sections.items() if isinstance(v, dict)})
    return profiles


def get_profile(name: str | None = None, path: Path | None = None) -> Profile:
    """Return the profile ``name``, else ``$LABKIT_PROFILE``, else ``sandbox``."""
    name = name or os.environ.get("LABKIT_PROFILE") or SANDBOX
    profiles = load_profiles(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"no profile named {name!r} in {path or config_path()}",
                          hint=f"use one of: {known}, or add [profiles.{name}.jira] to the file")
    return profiles[name]
