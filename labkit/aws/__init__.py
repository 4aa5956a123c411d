"""awscli provider setup for AWS-compatible private clouds: profiles, presets, a safe writer, verify.

    from labkit.aws import preset_profile, write_profile, verify, env
    p = preset_profile("eucalyptus", "partner01", host="10.0.0.1", region="partner01",
                       access_key_id="AKIA...", secret_env="PARTNER01_SECRET")
    print(write_profile(p).diff)                 # dry run: the unified diff
    write_profile(p, dry_run=False)              # merge into ~/.aws/config (credential_process, no secret)
    verify(p)                                    # boto3 + aws CLI checks as a table, S3 at object level
    list_profiles(); remove_profile("partner01")  # every profile as a table; dry run of a removal

Names are imported on first use, so ``labkit aws credential-process`` (run by aws on every call)
loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "EnvSwitch": "env", "env": "env",
    "AwsError": "errors",
    "from_euca2ools_ini": "euca2ools", "from_eucarc": "euca2ools",
    "ProfileRow": "manage", "list_profiles": "manage", "remove_profile": "manage",
    "PRESETS": "presets", "Preset": "presets", "preset_profile": "presets",
    "CloudProfile": "profile", "check_url": "profile",
    "CHECKS": "verify", "CheckRow": "verify", "verify": "verify",
    "WriteResult": "write", "write_profile": "write",
}
__all__ = ["CHECKS", "PRESETS", "AwsError", "CheckRow", "CloudProfile", "EnvSwitch", "Preset", "ProfileRow",
           "WriteResult", "check_url", "env", "from_euca2ools_ini", "from_eucarc", "list_profiles", "preset_profile",
           "remove_profile", "verify", "write_profile"]

if TYPE_CHECKING:
    from labkit.aws.env import EnvSwitch, env
    from labkit.aws.errors import AwsError
    from labkit.aws.euca2ools import from_euca2ools_ini, from_eucarc
    from labkit.aws.manage import ProfileRow, list_profiles, remove_profile
    from labkit.aws.presets import PRESETS, Preset, preset_profile
    from labkit.aws.profile import CloudProfile, check_url
    from labkit.aws.verify import CHECKS, CheckRow, verify
    from labkit.aws.write import WriteResult, write_profile


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.aws' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"labkit.aws.{module}"), name)
    globals()[name] = value
    return value
