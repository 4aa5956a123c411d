"""awscli provider setup for AWS-compatible private clouds: profiles, presets, a safe writer, verify.

    from labkit.aws import preset_profile, write_profile, verify, env
    p = preset_profile("eucalyptus", "partner01", host="10.0.0.1", region="partner01",
                       access_key_id="AKIA...", secret_env="PARTNER01_SECRET")
    print(write_profile(p).diff)                 # dry run: the unified diff
    write_profile(p, dry_run=False)              # merge into ~/.aws/config and credentials
    verify(p)                                    # boto3 + aws CLI checks as a table
"""

from labkit.aws.env import EnvSwitch, env
from labkit.aws.errors import AwsError
from labkit.aws.euca2ools import from_euca2ools_ini, from_eucarc
from labkit.aws.presets import PRESETS, Preset, preset_profile
from labkit.aws.profile import CloudProfile, check_url
from labkit.aws.verify import CHECKS, CheckRow, verify
from labkit.aws.write import WriteResult, write_profile

__all__ = ["CHECKS", "PRESETS", "AwsError", "CheckRow", "CloudProfile", "EnvSwitch", "Preset", "WriteResult",
           "check_url", "env", "from_euca2ools_ini", "from_eucarc", "preset_profile", "verify", "write_profile"]
