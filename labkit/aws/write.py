"""``write_profile``: merge a CloudProfile into awscli's config and credentials files, safely.

Only labkit's own sections change; the result is parsed with botocore before it replaces
anything (every other section must read back the same); both files are swapped in
atomically with a backup, and a failure half-way puts the first file back.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labkit.aws import ini
from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile

BACKUP_SUFFIX = ".labkit-backup"
_SECRET_LINE = re.compile(r"^(?P<lead>[-+ ]?\s*(?:aws_secret_access_key|aws_session_token|aws_security_token)\s*[=:]\s*)\S.*$",
                          re.IGNORECASE)


def default_config_file() -> Path:
    """Return the config file awscli reads: ``$AWS_CONFIG_FILE`` or ``~/.aws/config``."""
    return Path(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def default_credentials_file() -> Path:
    """Return the credentials file awscli reads: ``$AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``."""
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


@dataclass
class FileChange:
    """What a write does (or would do) to one file."""

    path: str
    existed: bool
    changed: bool
    diff: str
    backup: str | None = None


@dataclass
class WriteResult:
    """The outcome of ``write_profile``: per file, whether it changed, the unified diff and the backup."""

    profile: str
    dry_run: bool
    files: list[FileChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Tell whether any file differs (or would differ) from before."""
        return any(f.changed for f in self.files)

    @property
    def diff(self) -> str:
        """Return the unified diff of both files, secrets masked."""
        return "".join(f.diff for f in self.files)

    def rows(self) -> list[dict]:
        """Return one table row per file."""
        return [{"profile": self.profile, "file": f.path, "changed": f.changed, "dry_run": self.dry_run,
                 "backup": f.backup or ""} for f in self.files]


def mask_secrets(text: str) -> str:
    """Replace secret values in INI or diff lines by ``******``."""
    return "".join(_SECRET_LINE.sub(lambda m: m.group("lead") + "******", line)
                   for line in text.splitlines(keepends=True))


def config_blocks(p: CloudProfile) -> dict[ini.SectionKey, list[str]]:
    """Return the config-file sections of a validated profile: key -> [header, body lines...]."""
    body = [f"region = {p.region}"]
    if p.endpoint_url:
        body.append(f"endpoint_url = {p.endpoint_url}")
    if p.endpoints:
        body.append(f"services = {p.services_name}")
    if p.ca_bundle:
        body.append(f"ca_bundle = {p.ca_bundle}")
    if not p.verify_tls:
        body.append("# TLS verification is off for this cloud: add --no-verify-ssl to aws commands")
    body += ["s3 =", f"  addressing_style = {p.s3_addressing_style}"]
    key = ("profile", p.name)
    blocks = {key: [ini.config_header(key), *body]}
    if p.endpoints:
        skey = ("services", p.services_name)
        sbody: list[str] = []
        for sid, url in p.endpoints.items():
            sbody += [f"{sid} =", f"  endpoint_url = {url}"]
        blocks[skey] = [ini.config_header(skey), *sbody]
    return blocks


def credentials_blocks(p: CloudProfile) -> dict[ini.SectionKey, list[str]]:
    """Return the credentials-file section of a profile (none when it has no access key id)."""
    secret = p.resolve_secret()
    if secret is None:
        return {}
    return {("profile", p.name): [p.name, f"aws_access_key_id = {p.access_key_id}",
                                  f"aws_secret_access_key = {secret.reveal()}"]}


def _read(path: Path) -> tuple[bytes, str]:
    """Return a file's bytes and text ('' when it does not exist), or AwsError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return b"", ""
    except OSError as exc:
        raise AwsError(f"cannot read {path} ({exc.strerror})", hint="check the path and its permissions") from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AwsError(f"{path} is not a text file (not UTF-8)",
                       hint="aws cannot read it either; move it away or point at another file") from None


def _botocore_parse(text: str, where: Path) -> dict:
    """Parse INI text exactly as botocore does (its raw_config_parse on a temporary file)."""
    from botocore.configloader import raw_config_parse
    from botocore.exceptions import ConfigParseError

    fd, tmp = tempfile.mkstemp(prefix=".labkit-check-", suffix=".ini")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return raw_config_parse(tmp)
    except ConfigParseError as exc:
        err = str(getattr(exc, "kwargs", {}).get("error", exc)).splitlines()[0]
        raise AwsError(f"{where} cannot be read by botocore ({err})",
                       hint="labkit only merges into files the AWS tools can read: fix or move it first") from None
    finally:
        os.unlink(tmp)


def _expected(blocks: dict[ini.SectionKey, list[str]]) -> dict[str, dict]:
    """Return what botocore should read for the new sections (parsed back from the rendered block alone)."""
    text = "".join(f"[{lines[0]}]\n" + "".join(b + "\n" for b in lines[1:]) for lines in blocks.values())
    return _botocore_parse(text, Path("<labkit block>"))


def _plan_file(path: Path, owner: str, blocks: dict, keyfunc: Callable[[str], ini.SectionKey], force: bool) -> tuple[bytes, str, str]:
    """Return (old bytes, old text, merged text) of one file, checked with botocore."""
    raw, text = _read(path)
    before = _botocore_parse(text, path) if text.strip() else {}
    merged, conflicts = ini.merge(text, owner, blocks, keyfunc=keyfunc, force=force)
    if conflicts:
        c = conflicts[0]
        whose = f"labkit's profile {c.owner}" if c.owner else "not written by labkit"
        raise AwsError(f"{path} already has [{c.header}] ({whose})",
                       hint="choose another profile name, or pass force=True (--force) to replace it; a backup is kept")
    if merged != text:
        after = _botocore_parse(merged, path)
        headers = {lines[0] for lines in blocks.values()}
        ours_before = {s.header for s in ini.parse_sections(text.splitlines(True), keyfunc)
                       if s.owner == owner or s.key in blocks}
        kept = {k: v for k, v in before.items() if k not in ours_before}
        new = _expected(blocks)
        for k, v in kept.items():
            if after.get(k) != v:
                raise AwsError(f"merging into {path} would change section [{k}] (labkit bug or unusual syntax)",
                               hint="nothing was written; write the profile to a separate file instead")
        for k in headers:
            if after.get(k) != new.get(k):
                raise AwsError(f"merging into {path} would not read back as written ([{k}])",
                               hint="nothing was written; look for an odd line near that section")
        extra = set(after) - set(kept) - headers
        if extra:
            raise AwsError(f"merging into {path} would add sections {sorted(extra)}", hint="nothing was written")
    return raw, text, merged


def _diff(path: Path, old: str, new: str, existed: bool) -> str:
    """Return the unified diff of one file with secrets masked ('' when equal)."""
    if old == new:
        return ""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=str(path) if existed else "/dev/null", tofile=str(path))
    out = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return mask_secrets(out)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    """Write bytes to a fsynced temporary file next to ``path`` with ``mode``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".labkit-tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_profile(profile: CloudProfile, config_file: str | Path | None = None,
                  credentials_file: str | Path | None = None, *, dry_run: bool = True,
                  force: bool = False) -> WriteResult:
    """Merge a profile into awscli's config and credentials files; by default only show the diff.

    Replaces only sections marked as this profile's (``# managed by labkit (profile NAME)``);
    a same-named section labkit did not write is kept unless ``force``. Before anything is
    replaced, both results are parsed with botocore and every other section must read back
    unchanged. Files are swapped in atomically (temporary file, fsync, rename), a copy of
    each old file is kept as ``<file>.labkit-backup``, and the credentials file ends up mode 0600.
    """
    p = profile.validated()
    cfg = Path(os.path.realpath(Path(config_file).expanduser() if config_file else default_config_file()))
    cred = Path(os.path.realpath(Path(credentials_file).expanduser() if credentials_file
                                 else default_credentials_file()))
    if cfg == cred:
        raise AwsError(f"config and credentials are the same file ({cfg})", hint="give two different files")
    plans = []
    for path, blocks, keyfunc, what, mode in (
            (cfg, config_blocks(p), ini.config_key, "config", 0o600),
            (cred, credentials_blocks(p), ini.credentials_key, "credentials", 0o600)):
        raw, old, new = _plan_file(path, p.name, blocks, keyfunc, force)
        existed = path.exists()
        if what == "config" and existed:
            mode = path.stat().st_mode & 0o777
        changed = old != new or (what == "credentials" and existed and bool(blocks)
                                 and path.stat().st_mode & 0o777 != 0o600)
        plans.append((path, raw, new.encode("utf-8"), mode, existed,
                      FileChange(str(path), existed, changed, _diff(path, old, new, existed))))
    result = WriteResult(p.name, dry_run, [plan[-1] for plan in plans])
    if dry_run:
        return result
    _apply([pl for pl in plans if pl[-1].changed])
    return result


def _apply(plans: list) -> None:
    """Back up, write temporaries, then rename each into place; on failure restore what was renamed."""
    temps: list[Path] = []
    done: list[tuple[Path, bytes, bool, int]] = []
    try:
        for path, raw, new, mode, existed, change in plans:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if existed:
                backup = path.with_name(path.name + BACKUP_SUFFIX)
                tmp = _write_temp(backup, raw, 0o600)  # a backup may hold secrets: owner only
                os.replace(tmp, backup)
                change.backup = str(backup)
            temps.append(_write_temp(path, new, mode))
        for (path, raw, _new, _mode, existed, _change), tmp in zip(plans, temps, strict=True):
            current = path.read_bytes() if path.exists() else None
            if current != (raw if existed else None):
                raise AwsError(f"{path} changed on disk while labkit was writing it",
                               hint="nothing was written; run the write again")
            os.replace(tmp, path)
            done.append((path, raw, existed, _mode))
    except BaseException as exc:
        failed = []
        for path, raw, existed, mode in reversed(done):
            try:
                if existed:
                    os.replace(_write_temp(path, raw, mode), path)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                failed.append(str(path))
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if failed:
            raise AwsError(f"writing failed and {', '.join(failed)} could not be put back",
                           hint=f"copy {failed[0]}{BACKUP_SUFFIX} back by hand") from exc
        if isinstance(exc, AwsError):
            raise
        if isinstance(exc, OSError):
            raise AwsError(f"could not write {exc.filename or 'the files'} ({exc.strerror or exc})",
                           hint="the old files are unchanged; check the directory's permissions and free space") from None
        raise
