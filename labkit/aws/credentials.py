"""How a profile's secret reaches aws and boto3: ``credential_process`` (secret stays in keyring or env) or plain keys.

awscli and botocore run the ``credential_process`` command of a profile and read its JSON
(``{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ...}``) on stdout. labkit's command,
``labkit aws credential-process NAME --access-key-id KEY --secret-keyring USER`` (or
``--secret-env VAR``), prints that JSON with the secret looked up in the keyring or the
environment, so ``~/.aws`` never holds it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile, lookup_secret


def secret_env_name(profile: str) -> str:
    """Return the environment variable labkit keeps a profile's secret in (``$LABKIT_AWS_SECRET_<NAME>``)."""
    import re

    return "LABKIT_AWS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", profile).upper()


@dataclass(frozen=True)
class SecretHome:
    """Where a written profile's secret lives and how the tools get it."""

    mode: str  # process | keys | none
    env: str | None = None
    keyring_user: str | None = None
    store_in_keyring: bool = False  # the write must first put the profile's Secret into the keyring

    @property
    def source(self) -> str:
        """Say in a few words where the secret comes from (for tables)."""
        if self.mode == "none":
            return "no key"
        if self.mode == "keys":
            return "credentials file (plain key)"
        where = [f"${self.env}"] if self.env else []
        where += [f"keyring labkit/{self.keyring_user}"] if self.keyring_user else []
        return "credential_process (" + " or ".join(where) + ")"


def secret_home(p: CloudProfile) -> SecretHome:
    """Decide where a validated profile's secret lives: process when it has a keyring or env home, else keys."""
    from labkit.config import keyring_usable

    if p.access_key_id is None:
        return SecretHome("none")
    if p.credentials == "keys":
        return SecretHome("keys")
    if p.secret_keyring or p.secret_env:
        return SecretHome("process", env=p.secret_env, keyring_user=p.secret_keyring)
    if p.secret is not None and keyring_usable():
        return SecretHome("process", keyring_user=f"aws/{p.name}", store_in_keyring=True)
    if p.credentials == "process":
        raise AwsError(f"profile {p.name}: credential_process needs the secret in a keyring or an environment variable",
                       hint="give secret_env (the variable aws and boto3 will see) or install a keyring backend, "
                            "or write plain keys with credentials='keys' (--credentials keys)")
    return SecretHome("keys")


def labkit_command() -> list[str]:
    """Return the argv prefix that runs this installation's ``labkit`` (absolute, so aws finds it without PATH)."""
    here = Path(sys.executable).with_name("labkit")
    if here.exists():
        return [str(here)]
    found = shutil.which("labkit")
    return [found] if found else [sys.executable, "-m", "labkit.cli"]


def process_command(p: CloudProfile, home: SecretHome) -> str:
    """Return the ``credential_process`` line of a profile (no secret in it: only where to find one)."""
    argv = [*labkit_command(), "aws", "credential-process", p.name, "--access-key-id", str(p.access_key_id)]
    if home.env:
        argv += ["--secret-env", home.env]
    if home.keyring_user:
        argv += ["--secret-keyring", home.keyring_user]
    return shlex.join(argv)


def process_output(name: str, access_key_id: str, *, secret_env: str | None = None,
                   secret_keyring: str | None = None) -> str:
    """Return the JSON awscli and botocore expect from a credential_process, the secret read from env or keyring."""
    secret = lookup_secret(name, env=secret_env, keyring_user=secret_keyring)
    return json.dumps({"Version": 1, "AccessKeyId": access_key_id, "SecretAccessKey": secret.reveal()})


def parse_process_command(line: str) -> dict[str, str] | None:
    """Return the options of a labkit credential_process line (name, key id, env, keyring), or None for others."""
    try:
        argv = shlex.split(line)
    except ValueError:
        return None
    for i in range(len(argv) - 1):
        if argv[i] == "aws" and argv[i + 1] == "credential-process" and i + 2 < len(argv):
            out = {"name": argv[i + 2]}
            rest = argv[i + 3:]
            for flag, key in (("--access-key-id", "access_key_id"), ("--secret-env", "env"),
                              ("--secret-keyring", "keyring")):
                if flag in rest and rest.index(flag) + 1 < len(rest):
                    out[key] = rest[rest.index(flag) + 1]
            return out
    return None
