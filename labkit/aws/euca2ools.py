"""Import from euca2ools: ``[region X]`` sections of its .ini files and eucarc files become CloudProfiles."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile
from labkit.aws.services import EUCALYPTUS_NAMES
from labkit.config import Secret

# euca2ools region keys ``<name>-url`` -> botocore service id; bootstrap/properties/reporting are Eucalyptus-only.
INI_SERVICES = {"ec2": "ec2", "s3": "s3", "iam": "iam", "sts": "sts", "autoscaling": "auto_scaling",
                "cloudformation": "cloudformation", "monitoring": "cloudwatch", "cloudwatch": "cloudwatch",
                "elasticloadbalancing": "elastic_load_balancing", "elb": "elastic_load_balancing"}
# eucarc variables -> botocore service id.
EUCARC_SERVICES = {"EC2_URL": "ec2", "S3_URL": "s3", "AWS_IAM_URL": "iam", "EUARE_URL": "iam",
                   "TOKEN_URL": "sts", "AWS_STS_URL": "sts", "AWS_AUTO_SCALING_URL": "auto_scaling",
                   "AWS_CLOUDWATCH_URL": "cloudwatch", "AWS_ELB_URL": "elastic_load_balancing",
                   "AWS_CLOUDFORMATION_URL": "cloudformation"}
KEY_VARS = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "EC2_ACCESS_KEY")
SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "EC2_SECRET_KEY")
_TRUE = ("1", "yes", "true", "on")


def _profile_name(text: str) -> str:
    """Turn a euca2ools region or directory name into a usable profile name."""
    name = re.sub(r"[^A-Za-z0-9._@+-]+", "-", text.strip()).strip("-.") or "eucalyptus"
    return name[:64]


def _region_name(text: str) -> str:
    """Turn a euca2ools region name into a region name botocore accepts."""
    return re.sub(r"[^a-z0-9-]+", "-", text.strip().lower()).strip("-")[:50] or "eucalyptus"


def _read_ini(paths: list[Path]) -> configparser.RawConfigParser:
    """Read euca2ools .ini files into one parser (later files win)."""
    cp = configparser.RawConfigParser(strict=False)
    for path in paths:
        try:
            cp.read_string(path.read_text(encoding="utf-8"), source=str(path))
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            raise AwsError(f"cannot read euca2ools file {path} ({_why(exc)})",
                           hint="give euca2ools .ini files (e.g. /etc/euca2ools/conf.d/*.ini) or a directory of them") from None
    return cp


def _why(exc: Exception) -> str:
    """Say in one line why a file could not be read, naming line numbers but never a line's text (it may hold a key)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [section] header"
    if isinstance(exc, configparser.ParsingError):
        return f"not INI syntax on line {', '.join(str(n) for n, _ in exc.errors)}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc).splitlines()[0]


def from_euca2ools_ini(*paths: str | Path) -> list[CloudProfile]:
    """Turn every ``[region X]`` of euca2ools .ini files (or a directory of them) into a CloudProfile.

    The region's ``user = NAME`` picks ``[user NAME]`` (or ``[user REGION:NAME]``) for the key
    id and secret; ``verify-ssl`` and ``ca-cert`` carry over. The secret stays a masked Secret.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        p = p.expanduser()
        if p.is_dir() and not any(p.glob("*.ini")):
            raise AwsError(f"directory {p} holds no .ini file",
                           hint="euca2ools keeps them in /etc/euca2ools/conf.d/*.ini or ~/.euca/*.ini")
        files += sorted(p.glob("*.ini")) if p.is_dir() else [p]
    cp = _read_ini(files)
    profiles = []
    for section in cp.sections():
        kind, _, region = section.partition(" ")
        if kind != "region" or not region.strip():
            continue
        region = region.strip()
        opts = dict(cp.items(section))
        endpoints = {}
        for key, url in opts.items():
            if key.endswith("-url"):
                sid = INI_SERVICES.get(key[:-4]) or EUCALYPTUS_NAMES.get(key[:-4])
                if sid and url.strip():
                    endpoints[sid] = url.strip()
        if not endpoints:
            continue
        fields: dict = {}
        user = opts.get("user", "").strip()
        for candidate in (f"user {region}:{user}", f"user {user}") if user else ():
            if cp.has_section(candidate):
                u = dict(cp.items(candidate))
                if u.get("key-id"):
                    fields["access_key_id"] = u["key-id"].strip()
                    if u.get("secret-key"):
                        fields["secret"] = Secret(u["secret-key"].strip(), f"euca2ools [{candidate}]")
                break
        ca = opts.get("ca-cert") or opts.get("ca-bundle")
        profiles.append(CloudProfile(
            name=_profile_name(region), region=_region_name(region), endpoints=endpoints,
            verify_tls=opts.get("verify-ssl", "true").strip().lower() in _TRUE,
            ca_bundle=ca.strip() if ca else None, preset="euca2ools", **fields))
    if not profiles:
        raise AwsError(f"no [region NAME] section with service URLs in {', '.join(map(str, files))}",
                       hint="euca2ools keeps them in /etc/euca2ools/conf.d/*.ini or ~/.euca/*.ini")
    return profiles


def _eucarc_vars(text: str) -> dict[str, str]:
    """Return the plain ``VAR=value`` assignments of a eucarc (no command substitutions)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not m or "$(" in m.group(2) or "`" in m.group(2):
            continue
        try:
            words = shlex.split(m.group(2))
        except ValueError:
            continue
        found[m.group(1)] = words[0] if words else ""
    return found


def from_eucarc(path: str | Path, *, name: str | None = None, region: str | None = None) -> CloudProfile:
    """Turn a eucarc file (``export EC2_URL=...``, ``EC2_ACCESS_KEY``, ...) into a CloudProfile.

    The profile is named after ``name``, else the eucarc's directory; the region is ``region``,
    else ``$EC2_REGION``/``$AWS_DEFAULT_REGION`` in the file, else ``eucalyptus``.
    """
    path = Path(path).expanduser()
    try:
        found = _eucarc_vars(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AwsError(f"cannot read eucarc {path} ({exc})", hint="give the eucarc file from the credentials zip") from None
    endpoints = {sid: found[var] for var, sid in EUCARC_SERVICES.items() if found.get(var)}
    if not endpoints:
        raise AwsError(f"{path} sets no service URL (EC2_URL, S3_URL, ...)", hint="is this a eucarc file?")
    key = next((found[v] for v in KEY_VARS if found.get(v)), None)
    secret = next((found[v] for v in SECRET_VARS if found.get(v)), None)
    fields: dict = {}
    if key:
        fields["access_key_id"] = key
        if secret:
            fields["secret"] = Secret(secret, f"eucarc {path}")
    region = region or found.get("EC2_REGION") or found.get("AWS_DEFAULT_REGION") or "eucalyptus"
    return CloudProfile(name=_profile_name(name or path.resolve().parent.name), region=_region_name(region),
                        endpoints=endpoints, preset="eucarc", **fields)
