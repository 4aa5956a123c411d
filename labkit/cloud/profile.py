"""The awscli profile of a planned cloud: endpoints at the frontend's planned address, region from the cloud's name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from labkit.aws.presets import PRESETS
from labkit.cloud.errors import CloudError

if TYPE_CHECKING:
    from labkit.aws.profile import CloudProfile
    from labkit.vm.spec import CloudPlan

API_PORT = PRESETS["eucalyptus"].port  # the cloud controller's API on the frontend (8773)


def region_for(cloud: str) -> str:
    """Return the region name of a cloud: its name lower-cased, ``_`` as ``-`` (``Ciab_1`` -> ``ciab-1``)."""
    region = re.sub(r"-+", "-", str(cloud).lower().replace("_", "-")).strip("-")
    if not region:
        raise CloudError(f"cloud name {cloud!r} gives no region name", hint="name the cloud with letters and digits")
    return region


def frontend_address(plan: CloudPlan) -> str:
    """Return the planned IP of the cloud's frontend (the cloud-in-a-box VM or the frontend of fe+nc)."""
    try:
        fe = plan.frontend
    except StopIteration:
        fe = None
    if fe is None or not fe.ip:
        raise CloudError(f"cloud {plan.name} has no frontend with a planned address",
                         hint="plan the cloud on a lab network (labkit vm plan)")
    return fe.ip


def profile_from_plan(plan: CloudPlan, preset: str = "eucalyptus", *, name: str | None = None,
                      url: str | None = None, **fields: Any) -> CloudProfile:
    """Return the CloudProfile of a planned cloud: the preset's endpoints at the frontend's planned address.

    The region is the cloud's name (:func:`region_for`), the profile name too unless ``name`` is given.
    ``url`` aims the same layout at a stand-in (the sandbox's Eucalyptus front) instead of the frontend;
    other keyword arguments (access_key_id, secret_env, credentials, ...) go to the CloudProfile.
    """
    from labkit.aws.presets import preset_profile

    region = region_for(plan.name)
    host = "" if url else frontend_address(plan)
    return preset_profile(preset, name or region, region=region, host=host, url=url, **fields).validated()
