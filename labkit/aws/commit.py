"""Replace awscli's config and credentials files as one pair: temp files, a journal as commit point, renames.

Each file alone is always whole (a fsynced temporary file renamed over it). For the pair:

1. every old file is copied to ``<file>.labkit-backup`` and every new one written to a temporary
   ``.<file>.XXXX.labkit-tmp`` next to it (mode 0600 for anything that may hold a secret);
2. the journal ``.<config>.labkit-journal`` naming those temporaries is renamed into place: the commit point;
3. the temporaries are renamed over the files, then the journal is removed.

A process killed before 2 leaves the old pair and temporaries nobody references; killed after 2, a
pair that is old for some files and new for others, and the journal. :func:`recover` (run under the
directory lock by every labkit command that writes, before anything else) completes a committed write
and deletes unreferenced temporaries, so the pair is always old or new as a whole and no secret is
left behind in a temporary file. An error inside this process rolls back at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labkit.aws.errors import AwsError
from labkit.locks import exclusive

TEMP_SUFFIX = ".labkit-tmp"
BACKUP_SUFFIX = ".labkit-backup"
JOURNAL_SUFFIX = ".labkit-journal"


@dataclass
class FileWrite:
    """One file of the pair: its new bytes, the bytes it must still hold when the write commits, its mode."""

    path: Path
    old: bytes | None  # None: the file did not exist
    new: bytes
    mode: int
    keep: bytes | None = None  # what the backup keeps, when not the old bytes (e.g. labkit's own secrets masked)
    backup: Path | None = None  # set by commit() when the old bytes were copied aside


def journal_path(config: Path) -> Path:
    """Return the journal file of writes to one config file (hidden, next to it)."""
    return config.with_name(f".{config.name}{JOURNAL_SUFFIX}")


def backup_path(path: Path) -> Path:
    """Return where the previous bytes of a file are kept."""
    return path.with_name(path.name + BACKUP_SUFFIX)


def write_temp(path: Path, data: bytes, mode: int) -> Path:
    """Write bytes to a fsynced temporary file next to ``path`` with ``mode``; return its path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
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


def _fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in a directory durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _digest(data: bytes | None) -> str | None:
    """Return the sha256 of some bytes (None for a missing file)."""
    return None if data is None else hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def locked(config: Path) -> Iterator[None]:
    """Hold an exclusive lock on the config file's directory while writing (another labkit waits)."""
    directory = config.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with exclusive(directory):
        yield


def _temp_names(paths: list[Path]) -> dict[Path, tuple[str, ...]]:
    """Return, per directory, the name prefixes labkit's temporaries of these files start with."""
    names: dict[Path, set[str]] = {}
    for p in paths:
        for target in (p, backup_path(p)):
            names.setdefault(target.parent, set()).add(f".{target.name}.")
    return {d: tuple(sorted(n)) for d, n in names.items()}


def pending(config: Path) -> bool:
    """Tell whether a committed write to this config file was interrupted (its journal is there)."""
    return journal_path(config).exists()


def recover(config: Path, others: list[Path]) -> list[str]:
    """Complete a committed write that was interrupted, delete unreferenced temporaries; return what was done.

    Call it holding :func:`locked`. ``others`` are the other files written with this config file
    (the credentials file), whose directories are swept too.
    """
    notes: list[str] = []
    journal = journal_path(config)
    if journal.exists():
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))["files"]
            moves = [(Path(e["tmp"]), Path(e["path"])) for e in entries]
        except (OSError, ValueError, KeyError, TypeError):
            raise AwsError(f"{journal} is damaged", hint="compare the files with their .labkit-backup copies, "
                                                         "then delete the journal") from None
        for tmp, path in moves:
            if tmp.exists():
                os.replace(tmp, path)
                _fsync_dir(path.parent)
        journal.unlink()
        _fsync_dir(journal.parent)
        notes.append(f"completed an interrupted write of {', '.join(str(p) for _t, p in moves)}")
    removed = 0
    for directory, prefixes in _temp_names([config, journal, *others]).items():
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.name.endswith(TEMP_SUFFIX) and entry.name.startswith(prefixes):
                entry.unlink(missing_ok=True)
                removed += 1
    if removed:
        notes.append(f"removed {removed} temporary file(s) an interrupted write left")
    return notes


def commit(writes: list[FileWrite], config: Path) -> None:
    """Replace every file in ``writes`` or none: backups, temporaries, journal, renames (see the module doc).

    Call it holding :func:`locked`. A file that changed on disk since it was read stops the write
    before anything is replaced; any error rolls back what was replaced.
    """
    if not writes:
        return
    journal = journal_path(config)
    temps: dict[Path, Path] = {}
    journal_written = False
    done: list[FileWrite] = []
    try:
        for w in writes:
            w.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if w.old is not None:
                backup = backup_path(w.path)
                kept = w.old if w.keep is None else w.keep
                os.replace(write_temp(backup, kept, 0o600), backup)  # a backup may hold secrets: owner only
                w.backup = backup
        for w in writes:
            temps[w.path] = write_temp(w.path, w.new, w.mode)
        for w in writes:
            current = w.path.read_bytes() if w.path.exists() else None
            if current != w.old:
                raise AwsError(f"{w.path} changed on disk while labkit was writing it",
                               hint="nothing was written; run the write again")
        record = {"files": [{"path": str(w.path), "tmp": str(temps[w.path]), "old_sha256": _digest(w.old),
                             "new_sha256": _digest(w.new)} for w in writes]}
        os.replace(write_temp(journal, json.dumps(record, indent=1).encode(), 0o600), journal)
        _fsync_dir(journal.parent)
        journal_written = True
        for w in writes:
            os.replace(temps[w.path], w.path)
            del temps[w.path]
            done.append(w)
        for directory in {w.path.parent for w in writes}:
            _fsync_dir(directory)
        journal.unlink()
        _fsync_dir(journal.parent)
    except BaseException as exc:
        failed = _roll_back(done)
        if failed:  # keep the journal and the temporaries: the next labkit write completes the pair
            raise AwsError(f"writing failed and {', '.join(failed)} could not be put back",
                           hint="run the same labkit aws command again to complete the write, or copy "
                                f"{failed[0]}{BACKUP_SUFFIX} back") from exc
        if journal_written:
            journal.unlink(missing_ok=True)
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        if isinstance(exc, AwsError):
            raise
        if isinstance(exc, OSError):
            raise AwsError(f"could not write {exc.filename or 'the files'} ({exc.strerror or exc})",
                           hint="the old files are unchanged; check the directory's permissions and free space") from None
        raise


def _roll_back(done: list[FileWrite]) -> list[str]:
    """Put the old bytes back into files already replaced; return the ones that could not be."""
    failed = []
    for w in reversed(done):
        try:
            if w.old is not None:
                os.replace(write_temp(w.path, w.old, w.mode), w.path)
            else:
                w.path.unlink(missing_ok=True)
        except OSError:
            failed.append(str(w.path))
    return failed
