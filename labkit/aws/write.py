"""``write_profile``: merge a CloudProfile into awscli's config and credentials files, safely.

Only labkit's own sections change; the result is parsed with botocore before it replaces
anything (every other section must read back the same); both files are replaced as one pair
(:mod:`labkit.aws.commit`: backups, a journal, renames; a killed write is completed or rolled
back by the next one). By default the secret stays out of both files: the profile runs
``labkit aws credential-process`` (:mod:`labkit.aws.credentials`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labkit.aws import commit, ini
from labkit.aws.commit import BACKUP_SUFFIX
from labkit.aws.credentials import SecretHome, process_command, secret_home
from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile

__all__ = ["BACKUP_SUFFIX", "FileChange", "WriteResult", "config_blocks", "credentials_blocks", "mask_secrets",
           "write_profile"]

_SECRET_LINE = re.compile(r"^(?P<lead>[-+ ]?\s*(?:aws_secret_access_key|aws_session_token|aws_security_token)\s*[=:]\s*)\S.*$",
                          re.IGNORECASE)
# Why the written section says what it says (comment lines inside labkit's block, never its last line).
CHECKSUM_WHY = {
    "when_required": "# S3-compatible stores (MinIO, Ceph RGW, Eucalyptus, ...) reject the checksums botocore >= 1.36 "
                     "and awscli >= 1.37 send by default: send and check them only when an operation requires it",
    "when_supported": "# this store accepts the checksums botocore >= 1.36 sends by default: keep them on",
}
PATH_STYLE_WHY = "# path-style S3 URLs (http://host:port/BUCKET/KEY): a private cloud has no DNS name per bucket"
PROCESS_WHY = "# the secret stays in the keyring or environment: labkit hands it to aws and boto3 when they ask"


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
    secret: str = ""  # where the secret lives: credential_process (...), credentials file, no key
    notes: list[str] = field(default_factory=list)

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
                 "backup": f.backup or "", "secret": self.secret} for f in self.files]


def mask_secrets(text: str) -> str:
    """Replace secret values in INI or diff lines by ``******``."""
    return "".join(_SECRET_LINE.sub(lambda m: m.group("lead") + "******", line)
                   for line in text.splitlines(keepends=True))


def config_blocks(p: CloudProfile, home: SecretHome | None = None) -> dict[ini.SectionKey, list[str]]:
    """Return the config-file sections of a validated profile: key -> [header, body lines...]."""
    home = home or secret_home(p)
    body = [f"region = {p.region}"]
    if p.endpoint_url:
        body.append(f"endpoint_url = {p.endpoint_url}")
    if p.endpoints:
        body.append(f"services = {p.services_name}")
    if p.ca_bundle:
        body.append(f"ca_bundle = {p.ca_bundle}")
    if not p.verify_tls:
        body.append("# TLS verification is off for this cloud: add --no-verify-ssl to aws commands")
    if p.checksums:
        body += [CHECKSUM_WHY[p.checksums], f"request_checksum_calculation = {p.checksums}",
                 f"response_checksum_validation = {p.checksums}"]
    if home.mode == "process":
        body += [PROCESS_WHY, f"credential_process = {process_command(p, home)}"]
    if p.s3_addressing_style == "path":
        body.append(PATH_STYLE_WHY)
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


def credentials_blocks(p: CloudProfile, home: SecretHome | None = None) -> dict[ini.SectionKey, list[str]]:
    """Return the credentials-file section of a profile: plain keys only in ``keys`` mode, else none."""
    home = home or secret_home(p)
    if home.mode != "keys":
        return {}
    secret = p.resolve_secret()
    assert secret is not None
    return {("profile", p.name): [p.name, f"aws_access_key_id = {p.access_key_id}",
                                  f"aws_secret_access_key = {secret.reveal()}"]}


def read_file(path: Path) -> tuple[bytes, str]:
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


def botocore_parse(text: str, where: Path) -> dict:
    """Parse INI text exactly as botocore does (its raw_config_parse), from memory: no copy on disk."""
    from botocore.configloader import raw_config_parse
    from botocore.exceptions import ConfigParseError

    fd = os.memfd_create("labkit-check", 0)  # the text may hold a secret: never a file in /tmp
    try:
        os.write(fd, text.encode("utf-8"))
        return raw_config_parse(f"/proc/self/fd/{fd}")
    except ConfigParseError as exc:
        err = str(getattr(exc, "kwargs", {}).get("error", exc)).splitlines()[0]
        raise AwsError(f"{where} cannot be read by botocore ({err})",
                       hint="labkit only merges into files the AWS tools can read: fix or move it first") from None
    finally:
        os.close(fd)


def _expected(blocks: dict[ini.SectionKey, list[str]]) -> dict[str, dict]:
    """Return what botocore should read for the new sections (parsed back from the rendered block alone)."""
    text = "".join(f"[{lines[0]}]\n" + "".join(b + "\n" for b in lines[1:]) for lines in blocks.values())
    return botocore_parse(text, Path("<labkit block>"))


def _plan_file(path: Path, owner: str, blocks: dict, keyfunc: Callable[[str], ini.SectionKey], force: bool) -> tuple[bytes, str, str]:
    """Return (old bytes, old text, merged text) of one file, checked with botocore."""
    raw, text = read_file(path)
    before = botocore_parse(text, path) if text.strip() else {}
    merged, conflicts = ini.merge(text, owner, blocks, keyfunc=keyfunc, force=force)
    if conflicts:
        c = conflicts[0]
        whose = f"labkit's profile {c.owner}" if c.owner else "not written by labkit"
        raise AwsError(f"{path} already has [{c.header}] ({whose})",
                       hint="choose another profile name, or pass force=True (--force) to replace it; a backup is kept")
    if merged != text:
        after = botocore_parse(merged, path)
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


def resolve_files(config_file: str | Path | None, credentials_file: str | Path | None) -> tuple[Path, Path]:
    """Return the real paths of the config and credentials files (awscli's defaults when None)."""
    cfg = Path(os.path.realpath(Path(config_file).expanduser() if config_file else default_config_file()))
    cred = Path(os.path.realpath(Path(credentials_file).expanduser() if credentials_file
                                 else default_credentials_file()))
    if cfg == cred:
        raise AwsError(f"config and credentials are the same file ({cfg})", hint="give two different files")
    return cfg, cred


def plan_files(owner: str, cfg: Path, cred: Path, config: dict, credentials: dict, *,
               force: bool = False) -> tuple[list[commit.FileWrite], list[FileChange]]:
    """Merge ``owner``'s new sections into both files; return the writes and what each file would see."""
    writes, changes = [], []
    for path, blocks, keyfunc, what in ((cfg, config, ini.config_key, "config"),
                                        (cred, credentials, ini.credentials_key, "credentials")):
        raw, old, new = _plan_file(path, owner, blocks, keyfunc, force)
        existed = path.exists()
        mode = path.stat().st_mode & 0o777 if what == "config" and existed else 0o600
        changed = old != new or (what == "credentials" and existed and bool(blocks)
                                 and path.stat().st_mode & 0o777 != 0o600)
        change = FileChange(str(path), existed, changed, _diff(path, old, new, existed))
        changes.append(change)
        if changed:
            keep = _backup_text(old, keyfunc).encode("utf-8") if what == "credentials" else None
            writes.append(commit.FileWrite(path, raw if existed else None, new.encode("utf-8"), mode, keep))
    return writes, changes


def _backup_text(text: str, keyfunc: Callable[[str], ini.SectionKey]) -> str:
    """Return a credentials file's text for its backup: the secrets of labkit's own sections masked.

    labkit can write those sections again from the keyring or environment; a backup must not be one
    more file holding them. The user's own sections are kept byte for byte.
    """
    lines = text.splitlines(keepends=True)
    for s in ini.parse_sections(lines, keyfunc):
        if s.managed:
            lines[s.start:s.end] = [mask_secrets(line) for line in lines[s.start:s.end]]
    return "".join(lines)


def merge_files(owner: str, cfg: Path, cred: Path, config: dict, credentials: dict, *, dry_run: bool,
                force: bool = False, before: Callable[[], None] | None = None) -> tuple[list[FileChange], list[str]]:
    """Replace ``owner``'s sections in both files (or show how); return per-file changes and notes.

    Applying happens under the directory lock: first an interrupted write is completed
    (:func:`labkit.aws.commit.recover`), then the files are planned from what is on disk, then
    ``before()`` runs (e.g. keeping a secret in the keyring) and the pair is committed.
    """
    if dry_run:
        writes, changes = plan_files(owner, cfg, cred, config, credentials, force=force)
        notes = ["an interrupted labkit write is pending: applying completes it first"] if commit.pending(cfg) else []
        return changes, notes
    with commit.locked(cfg):
        notes = commit.recover(cfg, [cred])
        writes, changes = plan_files(owner, cfg, cred, config, credentials, force=force)
        if before:
            before()
        commit.commit(writes, cfg)
    backups = {str(w.path): str(w.backup) for w in writes if w.backup}
    for c in changes:
        c.backup = backups.get(c.path)
    return changes, notes


def write_profile(profile: CloudProfile, config_file: str | Path | None = None,
                  credentials_file: str | Path | None = None, *, dry_run: bool = True,
                  force: bool = False) -> WriteResult:
    """Merge a profile into awscli's config and credentials files; by default only show the diff.

    Replaces only sections marked as this profile's (``# managed by labkit (profile NAME)``);
    a same-named section labkit did not write is kept unless ``force``. Before anything is
    replaced, both results are parsed with botocore and every other section must read back
    unchanged. Both files are replaced as a pair (see :mod:`labkit.aws.commit`), a copy of
    each old file is kept as ``<file>.labkit-backup``, and the credentials file ends up mode 0600.
    With a keyring (or ``secret_env``) the secret stays out of both files: the profile gets a
    ``credential_process`` line instead (``credentials="keys"`` writes plain keys).
    """
    p = profile.validated()
    cfg, cred = resolve_files(config_file, credentials_file)
    home = secret_home(p)
    if home.mode == "process":
        p.resolve_secret()  # the secret must be findable now, or the profile would fail at its first use

    def keep_secret() -> None:
        """Put the profile's secret into the keyring before the files point at it."""
        if home.store_in_keyring:
            from labkit.config import set_secret

            secret = p.resolve_secret()
            assert secret is not None and home.keyring_user
            set_secret(home.keyring_user, secret.reveal())

    changes, notes = merge_files(p.name, cfg, cred, config_blocks(p, home), credentials_blocks(p, home),
                                 dry_run=dry_run, force=force, before=keep_secret)
    result = WriteResult(p.name, dry_run, changes, secret=home.source, notes=notes)
    if home.store_in_keyring:
        result.notes.append(f"{'would store' if dry_run else 'stored'} the secret in the keyring "
                            f"(labkit/{home.keyring_user})")
    if home.mode == "keys" and p.credentials == "auto":
        result.notes.append("no keyring and no secret_env: the secret goes into the credentials file as a plain "
                            "key; install a keyring backend or give secret_env to keep it out (credential_process)")
    return result
