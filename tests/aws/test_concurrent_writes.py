"""Several ``write_profile`` processes at once on one pair of awscli files: each waits its turn (labkit.locks).

Without the directory lock two writers would each plan from the same old files and the last rename would
drop the other's profile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

WRITERS = 8
CHILD = textwrap.dedent("""
    import sys
    from labkit.aws import CloudProfile, write_profile
    from labkit.config import Secret
    cfg, cred, name = sys.argv[1:4]
    write_profile(CloudProfile(name, "r-" + name, endpoint_url="http://10.0.0.1:5000", access_key_id="AKID" + name,
                               credentials="keys", secret=Secret("s3cr3t-" + name, "test")), cfg, cred, dry_run=False)
""")


def test_profiles_written_at_once_are_all_kept(tmp_path):
    from botocore.configloader import raw_config_parse

    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text("# the user's own config\n[default]\nregion = us-east-1\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    names = [f"lab{k}" for k in range(WRITERS)]

    def write(name: str) -> subprocess.CompletedProcess:
        """Write one profile from a process of its own."""
        return subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(cred), name], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    with ThreadPoolExecutor(WRITERS) as pool:
        done = list(pool.map(write, names))
    assert [p.returncode for p in done] == [0] * WRITERS, [p.stderr for p in done if p.returncode]
    conf, keys = raw_config_parse(str(cfg)), raw_config_parse(str(cred))
    assert conf["default"] == {"region": "us-east-1"}  # the user's own section is untouched
    for name in names:
        assert conf[f"profile {name}"]["region"] == f"r-{name}"
        assert keys[name]["aws_access_key_id"] == f"AKID{name}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "config.labkit-backup", "credentials",
                                                           "credentials.labkit-backup"]
