"""Endpoint layouts of known AWS-compatible clouds: Eucalyptus, MinIO, Ceph RGW, LocalStack, moto."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.aws.errors import AwsError
from labkit.aws.profile import CloudProfile, check_url
from labkit.aws.services import EUCALYPTUS_SERVICES


@dataclass(frozen=True)
class Preset:
    """One known cloud product: its default port, the services it answers and how URLs are laid out."""

    name: str
    description: str
    port: int
    services: tuple[str, ...]
    layout: str  # gateway | per-service | eucalyptus-path | eucalyptus-dns
    host_label: str = "host"


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("eucalyptus", "Eucalyptus 4.x, path-style: http://CLC:8773/services/compute ...", 8773,
           tuple(EUCALYPTUS_SERVICES), "eucalyptus-path", "cloud controller host"),
    Preset("eucalyptus-dns", "Eucalyptus 4.x, DNS-style: http://compute.REGION.DOMAIN:8773/ ...", 8773,
           tuple(EUCALYPTUS_SERVICES), "eucalyptus-dns", "DNS domain"),
    Preset("minio", "MinIO: S3 and STS on one port", 9000, ("s3", "sts"), "per-service"),
    Preset("ceph-rgw", "Ceph RADOS Gateway: S3, IAM and STS on one port", 7480, ("s3", "iam", "sts"), "per-service"),
    Preset("localstack", "LocalStack: every service behind one gateway", 4566, (), "gateway"),
    Preset("moto", "moto server: every service behind one gateway", 5000, (), "gateway"),
)}


def preset_profile(preset: str, name: str, *, region: str, host: str = "127.0.0.1", port: int | None = None,
                   url: str | None = None, scheme: str = "http", **fields) -> CloudProfile:
    """Build a CloudProfile from a preset: the host (or a base ``url``) and port fill in every endpoint.

    ``url`` replaces ``scheme://host:port`` (handy to aim a preset at a local stand-in);
    other keyword arguments (access_key_id, secret_env, ca_bundle, credentials, ...) go to CloudProfile.
    Every preset is an S3-compatible store, not AWS: its profile asks for checksums only when required
    and for path-style S3 addressing (CloudProfile's defaults), unless ``checksums=``/``s3_addressing_style=``
    say otherwise.
    """
    p = PRESETS.get(preset)
    if p is None:
        raise AwsError(f"no preset named {preset!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    if scheme not in ("http", "https"):
        raise AwsError(f"scheme {scheme!r} is not http or https", hint="use http or https")
    host = (host or "").strip()
    if not url and not host:
        raise AwsError(f"preset {preset} needs a {p.host_label}", hint="give host=... or url=...")
    if url:
        url = check_url(url, "base URL")
    elif "@" in host:
        raise AwsError(f"the {p.host_label} has a user name or password in it",
                       hint="give the host alone; the key goes in access key id and secret")
    if not url and ("/" in host or any(c.isspace() for c in host)):
        raise AwsError(f"{p.host_label} {host!r} is not a host name",
                       hint="give the host alone (e.g. 10.0.0.5 or clc.example.com), or a whole base URL as url=...")
    base = (url or f"{scheme}://{host}:{port or p.port}").rstrip("/")
    if p.layout == "gateway":
        return CloudProfile(name=name, region=region, endpoint_url=base, preset=preset, **fields)
    if p.layout == "per-service":
        return CloudProfile(name=name, region=region, endpoints={s: base for s in p.services}, preset=preset,
                            **fields)
    if p.layout == "eucalyptus-path":
        endpoints = {s: f"{base}/services/{path}" for s, (_label, path) in EUCALYPTUS_SERVICES.items()}
    else:  # eucalyptus-dns: every service is its own host name under the region's DNS domain
        if url:
            raise AwsError("the DNS-style preset builds one host name per service", hint="give host= (the DNS domain), not url=")
        endpoints = {s: f"{scheme}://{label}.{region}.{host}:{port or p.port}/"
                     for s, (label, _path) in EUCALYPTUS_SERVICES.items()}
    return CloudProfile(name=name, region=region, endpoints=endpoints, preset=preset, **fields)
