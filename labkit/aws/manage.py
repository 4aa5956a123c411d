"""``list_profiles`` and ``remove_profile``: every awscli profile as a table, and taking labkit's own ones out.

Listing reads both files as botocore does and says for each profile whether labkit wrote it,
where it points, its region, where its secret comes from and which checksum behaviour it asks for.
Removing drops only the sections marked as that profile's (``# managed by labkit (profile NAME)``),
with the same dry run, backups and two-file commit as writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.aws import ini
from labkit.aws.credentials import parse_process_command
from labkit.aws.errors import AwsError
from labkit.aws.profile import NAME_RE
from labkit.aws.write import WriteResult, botocore_parse, merge_files, read_file, resolve_files


@dataclass(frozen=True)
class ProfileRow:
    """One profile of the awscli files: whose it is, where it points, where its secret comes from."""

    profile: str
    labkit: bool
    region: str
    endpoint: str
    secret: str
    checksums: str


def _endpoint(settings: dict, services: dict) -> str:
    """Say where a profile's calls go: its gateway URL, its per-service URLs, or AWS itself."""
    if settings.get("endpoint_url"):
        return str(settings["endpoint_url"])
    section = services.get(settings.get("services") or "")
    if isinstance(section, dict):
        urls = {sid: v.get("endpoint_url") for sid, v in section.items() if isinstance(v, dict) and v.get("endpoint_url")}
        if urls:
            first = urls.get("ec2") or urls.get("s3") or next(iter(urls.values()))
            return f"{first} (+{len(urls) - 1} more services)" if len(urls) > 1 else str(first)
        return f"services {settings['services']}: no endpoint URLs"
    if settings.get("services"):
        return f"services {settings['services']}: section missing"
    return "AWS"


def _secret(settings: dict, credentials: dict) -> str:
    """Say where a profile's secret comes from (never the secret)."""
    process = settings.get("credential_process")
    if process:
        opts = parse_process_command(str(process))
        if opts is None:
            return "credential_process (another command)"
        where = [f"${opts['env']}"] if opts.get("env") else []
        where += [f"keyring labkit/{opts['keyring']}"] if opts.get("keyring") else []
        return "credential_process (" + (" or ".join(where) or f"keyring labkit/aws/{opts['name']}") + ")"
    if credentials.get("aws_secret_access_key"):
        return "credentials file (plain key)"
    if settings.get("aws_secret_access_key"):
        return "config file (plain key)"
    if settings.get("sso_session") or settings.get("sso_start_url"):
        return "SSO"
    if settings.get("role_arn"):
        return f"role via {settings.get('source_profile') or settings.get('credential_source') or 'web identity'}"
    return "none"


def list_profiles(config_file: str | Path | None = None, credentials_file: str | Path | None = None) -> list[ProfileRow]:
    """Return every profile of the config and credentials files, labkit's and others', sorted by name."""
    from botocore.configloader import build_profile_map

    cfg, cred = resolve_files(config_file, credentials_file)
    _, cfg_text = read_file(cfg)
    _, cred_text = read_file(cred)
    parsed = build_profile_map(botocore_parse(cfg_text, cfg)) if cfg_text.strip() else {}
    profiles, services = parsed.get("profiles", {}), parsed.get("services", {})
    creds = botocore_parse(cred_text, cred) if cred_text.strip() else {}
    owned = {s.key[1] for text, keyfunc in ((cfg_text, ini.config_key), (cred_text, ini.credentials_key))
             for s in ini.parse_sections(text.splitlines(keepends=True), keyfunc)
             if s.key[0] == "profile" and s.owner == s.key[1]}
    rows = []
    for name in sorted(set(profiles) | set(creds)):
        settings, keys = profiles.get(name, {}), creds.get(name, {})
        rows.append(ProfileRow(name, name in owned, str(settings.get("region") or ""), _endpoint(settings, services),
                               _secret(settings, keys),
                               str(settings.get("request_checksum_calculation") or "default")))
    return rows


def remove_profile(name: str, config_file: str | Path | None = None, credentials_file: str | Path | None = None, *,
                   dry_run: bool = True) -> WriteResult:
    """Remove labkit's sections of one profile from both files; by default only show the diff.

    Sections labkit did not write (no marker right above them) are never touched: a profile the
    user wrote is refused with a one-line error. Backups and the two-file commit are as for writing.
    """
    if not NAME_RE.match(name or ""):
        raise AwsError(f"profile name {name!r} is not usable", hint="use letters, digits and . _ @ + -")
    cfg, cred = resolve_files(config_file, credentials_file)
    found, ours = False, False
    for path, keyfunc in ((cfg, ini.config_key), (cred, ini.credentials_key)):
        _, text = read_file(path)
        for s in ini.parse_sections(text.splitlines(keepends=True), keyfunc):
            found = found or s.key == ("profile", name)
            ours = ours or s.owner == name
    if not ours:
        if found:
            raise AwsError(f"profile {name} was not written by labkit",
                           hint="labkit removes only the sections it wrote (marked '# managed by labkit'); "
                                "edit the file by hand")
        raise AwsError(f"no profile {name!r} in {cfg}", hint="see the profiles with: labkit aws list")
    secret = next((r.secret for r in list_profiles(cfg, cred) if r.profile == name), "")
    changes, notes = merge_files(name, cfg, cred, {}, {}, dry_run=dry_run)
    result = WriteResult(name, dry_run, changes, secret=secret, notes=notes)
    if "keyring" in secret:
        result.notes.append(f"the secret stays in the keyring ({secret}); remove it with: "
                            f"python -m keyring del labkit aws/{name}")
    return result
