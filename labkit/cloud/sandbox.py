"""The release check's settings on the sandbox: which stand-in answers for which part of the cloud.

The forge serves the pull request; moto behind the Eucalyptus URL layout stands in for the cloud
controller's API (port 8773 of the frontend); the Jira sandbox takes the comment. The sandbox's
AWS secret is put in this process's environment only (never printed or written to a file).
"""

from __future__ import annotations

import os
from typing import Any

from labkit.cloud.profile import API_PORT


def sandbox_settings(profile_name: str, services: tuple[str, ...] = ("forge", "aws", "jira")) -> dict[str, Any]:
    """Start the sandbox's services (idempotent) and return the release check's keyword arguments for them."""
    import labkit.sandbox as sandbox
    from labkit.aws.credentials import secret_env_name
    from labkit.aws.sandbox import endpoints

    sandbox.start(list(services))
    out: dict[str, Any] = {}
    if "forge" in services:
        out["forge_url"] = sandbox.url("forge")
    if "aws" in services:
        front = endpoints()["eucalyptus"]
        env = secret_env_name(profile_name)
        os.environ[env] = sandbox.secret("aws").reveal()
        out.update(profile_url=front, forwards={API_PORT: front.split("://", 1)[1]},
                   profile_fields={"access_key_id": "labkit", "secret_env": env})
    return out
