"""Service names as the ``[services X]`` section wants them: botocore's snake_case service ids."""

from __future__ import annotations

import difflib
from functools import lru_cache

from labkit.aws.errors import AwsError

# Eucalyptus 4.x on the cloud controller's port 8773: botocore service id -> (host label of the DNS-style
# URL http://LABEL.REGION.DOMAIN:8773/, path of the path-style URL http://CLC:8773/services/PATH), as the
# eucarc and euca2ools.ini files a 4.x cloud hands out spell them (EC2_URL=.../services/compute,
# AWS_IAM_URL=.../services/Euare, TOKEN_URL=.../services/Tokens, AWS_ELB_URL=.../services/LoadBalancing).
EUCALYPTUS_SERVICES: dict[str, tuple[str, str]] = {
    "ec2": ("compute", "compute"),
    "iam": ("euare", "Euare"),
    "s3": ("objectstorage", "objectstorage"),
    "sts": ("tokens", "Tokens"),
    "auto_scaling": ("autoscaling", "AutoScaling"),
    "cloudformation": ("cloudformation", "CloudFormation"),
    "cloudwatch": ("cloudwatch", "CloudWatch"),
    "elastic_load_balancing": ("loadbalancing", "LoadBalancing"),
}
# Names Eucalyptus and euca2ools use for its services (lower-cased), mapped to botocore's ids: the layout's
# own names, and older or euca2ools spellings.
EUCALYPTUS_NAMES = {
    **{label: sid for sid, (label, _path) in EUCALYPTUS_SERVICES.items()},
    **{path.lower(): sid for sid, (_label, path) in EUCALYPTUS_SERVICES.items()},
    "walrus": "s3",
    "monitoring": "cloudwatch",
    "elasticloadbalancing": "elastic_load_balancing",
}
# What private clouds usually offer: preferred when suggesting a name.
COMMON = ("ec2", "s3", "iam", "sts", "auto_scaling", "cloudformation", "cloudwatch", "elastic_load_balancing")


def snake_id(client_name: str) -> str:
    """Return the ``[services]`` key of a boto3 client name (``elb`` -> ``elastic_load_balancing``)."""
    from botocore import utils

    name = utils.SERVICE_NAME_ALIASES.get(client_name, client_name)
    return utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(name, name).replace("-", "_")


@lru_cache(maxsize=1)
def known_services() -> dict[str, str]:
    """Return every accepted spelling (client name, hyphenated or snake id) -> snake_case service id."""
    from botocore.loaders import create_loader

    names: dict[str, str] = {}
    for client in create_loader().list_available_services("service-2"):
        sid = snake_id(client)
        names[client] = sid
        names[sid] = sid
        names[sid.replace("_", "-")] = sid
    return names


@lru_cache(maxsize=1)
def _clients_by_id() -> dict[str, str]:
    """Return snake_case service id -> the first boto3 client name with that id."""
    from botocore.loaders import create_loader

    out: dict[str, str] = {}
    for client in create_loader().list_available_services("service-2"):
        out.setdefault(snake_id(client), client)
    return out


def client_name(sid: str) -> str:
    """Return the boto3 client name of a snake_case service id (``elastic_load_balancing`` -> ``elb``)."""
    try:
        return _clients_by_id()[sid]
    except KeyError:
        raise AwsError(f"no boto3 client for service id {sid!r}", hint="use botocore's snake_case ids") from None


def service_id(name: str) -> str:
    """Turn a service name the user typed into botocore's snake_case id, or say which one they meant."""
    key = name.strip().lower()
    if key in EUCALYPTUS_NAMES:
        return EUCALYPTUS_NAMES[key]
    known = known_services()
    if key in known:
        return known[key]
    ids = sorted(set(known.values()))
    close = difflib.get_close_matches(key.replace("-", "_"), ids, n=5, cutoff=0.6)
    close += [i for i in ids if key and key.replace("-", "_") in i and i not in close][:3]
    close.sort(key=lambda i: i not in COMMON)  # stable: a private cloud's usual services first
    hint = f"did you mean {', '.join(close[:3])}?" if close else "use botocore's snake_case service ids (ec2, s3, iam, sts, elastic_load_balancing, ...)"
    raise AwsError(f"unknown service name {name!r}", hint=hint)
