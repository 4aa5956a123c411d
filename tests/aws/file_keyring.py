"""A keyring backend for tests: a JSON file named by $LABKIT_TEST_KEYRING (outside ~/.aws), shared by processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    """Store passwords in one JSON file; for tests only (a real keyring encrypts)."""

    priority = 1

    def _path(self) -> Path:
        return Path(os.environ["LABKIT_TEST_KEYRING"])

    def _load(self) -> dict:
        path = self._path()
        return json.loads(path.read_text()) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}/{username}", None)
        self._path().write_text(json.dumps(data))
