"""``env``: the shell exports and the notebook cell that switch awscli and boto3 to one profile."""

from __future__ import annotations

import os
import shlex
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

from labkit.aws.profile import NAME_RE, CloudProfile

# Variables that beat a profile's files: switching must clear them.
CLEARED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
           "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
           "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_DATA_PATH", "AWS_REQUEST_CHECKSUM_CALCULATION",
           "AWS_RESPONSE_CHECKSUM_VALIDATION")


@dataclass(frozen=True)
class EnvSwitch:
    """What to set and unset so that ``aws`` and boto3 use one profile and its files (no secrets in it)."""

    profile: str
    set: dict[str, str]
    unset: tuple[str, ...]

    @property
    def shell(self) -> str:
        """Return POSIX shell lines: ``unset ...`` then ``export NAME=value``."""
        lines = [f"unset {' '.join(self.unset)}"] if self.unset else []
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.set.items()]
        return "\n".join(lines) + "\n"

    @property
    def cell(self) -> str:
        """Return a notebook cell that switches the running kernel (and the ``!aws`` commands it starts)."""
        return ("import os\n"
                f"for _name in {list(self.unset)!r} + [n for n in os.environ if n.startswith('AWS_ENDPOINT_URL_')]:\n"
                "    os.environ.pop(_name, None)\n"
                f"os.environ.update({self.set!r})\n")

    def apply(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Switch this process: clear the overriding variables and set the profile's."""
        environ = os.environ if environ is None else environ
        for name in [*self.unset, *[n for n in environ if n.startswith("AWS_ENDPOINT_URL_")]]:
            environ.pop(name, None)
        environ.update(self.set)


def env(profile: CloudProfile | str, config_file: str | Path | None = None,
        credentials_file: str | Path | None = None) -> EnvSwitch:
    """Return the environment switch to one profile, with absolute paths of the files it lives in."""
    from labkit.aws.errors import AwsError
    from labkit.aws.write import default_config_file, default_credentials_file

    name = profile.name if isinstance(profile, CloudProfile) else str(profile)
    if not NAME_RE.match(name):
        raise AwsError(f"profile name {name!r} is not usable", hint="use letters, digits and . _ @ + -")
    cfg = Path(config_file).expanduser() if config_file else default_config_file()
    cred = Path(credentials_file).expanduser() if credentials_file else default_credentials_file()
    if not isinstance(profile, CloudProfile):
        _require_profile(name, cfg)
    present = tuple(sorted(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")))
    return EnvSwitch(name, {"AWS_PROFILE": name, "AWS_CONFIG_FILE": str(cfg.absolute()),
                            "AWS_SHARED_CREDENTIALS_FILE": str(cred.absolute())}, CLEARED + present)


def _require_profile(name: str, config_file: Path) -> None:
    """Raise AwsError unless the config file has a section for the named profile."""
    from labkit.aws import ini
    from labkit.aws.errors import AwsError
    from labkit.aws.write import read_file

    _, text = read_file(config_file)
    keys = {s.key for s in ini.parse_sections(text.splitlines(keepends=True))}
    if ("profile", name) not in keys:
        raise AwsError(f"no profile {name!r} in {config_file}",
                       hint=f"write it first (labkit aws write {name} ... --apply) or give its --config-file")
