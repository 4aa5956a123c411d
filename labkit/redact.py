"""Find the secret values labkit knows of and take them out of text and notebooks before anything is saved.

One place answers "which strings are secrets here?" for ``labkit run``, the notebook tests and
anything else that writes what a runbook showed::

    from labkit.redact import secret_values, scrub_notebook
    values = secret_values()                 # env tokens, profile secrets, sandbox secrets
    scrub_notebook(nb, values)               # every cell source, output and metadata string

A value counts as a secret when it is (1) the value of an environment variable whose name says
secret (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*ACCESS_KEY*``, ...), (2) the value of a variable
or keyring entry a profile names (``token_env = "PROD_JIRA_TOKEN"``), or (3) a running sandbox
service's random secret. Values shorter than :data:`MIN_LENGTH` are left alone: scrubbing
"admin" or "x" would shred ordinary output, and no generated secret is that short.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

MASK = "******"
MIN_LENGTH = 6
# Words that make an environment variable's value a secret.
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|ACCESS_KEY|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL"
                         r"|SESSION_KEY", re.I)
# ...unless the name says the value only points at one (AWS_SHARED_CREDENTIALS_FILE, TOKEN_ENV).
NOT_A_SECRET = re.compile(r"_(FILE|PATH|DIR|ENV|KEYRING|BACKEND|NAME|TYPE)$", re.I)
# Output data that is binary (base64): never edited, a replacement would corrupt it.
_BINARY_MIME = ("image/png", "image/jpeg", "image/gif", "application/pdf")


def secret_values(environ: Mapping[str, str] | None = None, *, run_dir: Path | None = None,
                  config: Path | None = None) -> set[str]:
    """Return every secret value known here: env tokens, the profiles' secrets, the sandbox's secrets.

    ``environ`` defaults to ``os.environ``; ``run_dir`` and ``config`` default to the ones that
    environment selects (``$LABKIT_RUN_DIR``, ``$LABKIT_CONFIG``).
    """
    env = dict(os.environ if environ is None else environ)
    found = {v for k, v in env.items() if SECRET_NAME.search(k) and not NOT_A_SECRET.search(k)}
    found |= _profile_secrets(env, config)
    found |= _sandbox_secrets(env, run_dir)
    return {v for v in found if isinstance(v, str) and len(v) >= MIN_LENGTH}


def _profile_secrets(env: dict[str, str], config: Path | None) -> set[str]:
    """Return the values of the environment variables and keyring entries the profiles name."""
    from labkit.config import KEYRING_SERVICE, load_profiles
    from labkit.errors import LabkitError

    path = config or (Path(env["LABKIT_CONFIG"]).expanduser() if env.get("LABKIT_CONFIG") else None)
    try:
        profiles = load_profiles(path)
    except LabkitError:
        return set()
    found: set[str] = set()
    for profile in profiles.values():
        for section in profile.sections.values():
            for key, ref in section.items():
                if not isinstance(ref, str):
                    continue
                if key.endswith("_env") and env.get(ref):
                    found.add(env[ref])
                elif key.endswith("_keyring"):
                    found |= _keyring_value(KEYRING_SERVICE, ref)
    return found


def _keyring_value(service: str, user: str) -> set[str]:
    """Return the keyring's value for ``user`` as a set (empty when there is none or no backend)."""
    try:
        import keyring

        value = keyring.get_password(service, user)
    except Exception:  # noqa: BLE001 - any keyring failure means there is no value to hide
        return set()
    return {value} if value else set()


def _sandbox_secrets(env: dict[str, str], run_dir: Path | None) -> set[str]:
    """Return the random secrets of the sandbox services recorded in the run directory."""
    if run_dir is None:
        from labkit.sandbox.runner import run_dir as default_run_dir

        if env.get("LABKIT_RUN_DIR"):
            run_dir = Path(env["LABKIT_RUN_DIR"]).expanduser()
        else:
            run_dir = default_run_dir()
    try:
        entries = json.loads((run_dir / "services.json").read_text())
        return {e["secret"] for e in entries.values() if isinstance(e, dict) and e.get("secret")}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _variants(values: Iterable[str]) -> list[str]:
    """Return the values and their URL-quoted forms, longest first (so no value is half-replaced)."""
    out = set()
    for v in values:
        out.add(v)
        out.add(quote(v, safe=""))
    return sorted(out, key=len, reverse=True)


def scrub_text(text: str, values: Iterable[str]) -> str:
    """Return ``text`` with every secret value (and its URL-quoted form) replaced by ``******``."""
    for v in _variants(values):
        if v and v in text:
            text = text.replace(v, MASK)
    return text


def find_secrets(text: str, values: Iterable[str]) -> list[str]:
    """Return the secret values that occur in ``text`` (for leak checks)."""
    return [v for v in values if v and v in text]


def scrub_notebook(nb: Any, values: Iterable[str]) -> int:
    """Replace every secret value in a notebook's sources, outputs and metadata in place; return how many strings changed."""
    variants = _variants(values)
    if not variants:
        return 0
    return _scrub(nb, variants)


def _scrub(node: Any, variants: list[str]) -> int:
    """Scrub the strings of a JSON-like tree in place; return how many changed."""
    changed = 0
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return 0
    for key, value in list(items):
        if isinstance(value, str):
            if key in _BINARY_MIME:
                continue
            new = value
            for v in variants:
                if v in new:
                    new = new.replace(v, MASK)
            if new is not value and new != value:
                node[key] = new
                changed += 1
        else:
            changed += _scrub(value, variants)
    return changed
