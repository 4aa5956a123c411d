"""``CloudProfile``: one AWS-compatible private cloud as awscli and boto3 should see it."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from labkit.aws.errors import AwsError
from labkit.config import Secret

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
REGION_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
KEY_ID_RE = re.compile(r"^[A-Za-z0-9+/=_.:-]{1,256}$")
ADDRESSING_STYLES = ("path", "virtual", "auto")
# botocore >= 1.36 / awscli >= 1.37 send and check the new S3 checksums unless told "when_required".
CHECKSUM_MODES = ("when_required", "when_supported")
# How the secret reaches aws and boto3: auto picks credential_process when the secret has a home outside
# the file (a keyring, or an environment variable), else plain keys.
CREDENTIAL_MODES = ("auto", "process", "keys")


@dataclass(frozen=True)
class CloudProfile:
    """A named awscli profile for a private cloud: region, endpoints, credentials reference, TLS.

    Give either one ``endpoint_url`` (a gateway answering every service) or per-service
    ``endpoints`` (``{"ec2": "http://clc:8773/services/compute", ...}``), or both (the
    per-service ones win). The secret is never stored here in clear: it is a ``Secret``, or the
    name of an environment variable (``secret_env``) or keyring entry (``secret_keyring``).
    """

    name: str
    region: str
    endpoint_url: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    access_key_id: str | None = None
    secret_env: str | None = None
    secret_keyring: str | None = None
    secret: Secret | None = field(default=None, repr=False, compare=False)
    s3_addressing_style: str = "path"
    ca_bundle: str | None = None
    verify_tls: bool = True
    services_section: str | None = None
    preset: str = ""
    checksums: str | None = "when_required"
    credentials: str = "auto"

    @property
    def services_name(self) -> str:
        """Return the name of the ``[services X]`` section this profile uses."""
        return self.services_section or self.name

    def validated(self) -> CloudProfile:
        """Return this profile with service names normalised, or raise AwsError saying what to fix."""
        from labkit.aws.services import service_id

        if not NAME_RE.match(self.name or ""):
            raise AwsError(f"profile name {self.name!r} is not usable",
                           hint="use letters, digits and . _ @ + - (up to 64), starting with a letter or digit")
        if not self.region:
            raise AwsError(f"profile {self.name}: no region",
                           hint="give the cloud's region name, e.g. eucalyptus, partner01 or us-east-1")
        if not REGION_RE.match(self.region):
            raise AwsError(f"profile {self.name}: region {self.region!r} is not a region name",
                           hint="use lowercase letters, digits and dashes, e.g. partner01 or us-east-1")
        if self.services_section is not None and not NAME_RE.match(self.services_section):
            raise AwsError(f"services section name {self.services_section!r} is not usable",
                           hint="use letters, digits and . _ @ + -")
        gateway = check_url(self.endpoint_url, "endpoint_url") if self.endpoint_url else None
        endpoints: dict[str, str] = {}
        for svc, url in self.endpoints.items():
            sid = service_id(svc)
            if sid in endpoints:
                raise AwsError(f"service {svc!r} is given twice (as {sid})", hint="keep one URL per service")
            endpoints[sid] = check_url(url, f"endpoint of {svc}")
        if not gateway and not endpoints:
            raise AwsError(f"profile {self.name}: no endpoint URL",
                           hint="without one, aws and boto3 talk to Amazon itself; give a gateway URL or per-service URLs")
        if self.s3_addressing_style not in ADDRESSING_STYLES:
            raise AwsError(f"S3 addressing style {self.s3_addressing_style!r} is unknown",
                           hint="use path (what private clouds want), virtual or auto")
        if self.checksums is not None and self.checksums not in CHECKSUM_MODES:
            raise AwsError(f"checksum mode {self.checksums!r} is unknown",
                           hint="use when_required (S3-compatible stores), when_supported (stores that accept "
                                "the new checksums) or None")
        if self.credentials not in CREDENTIAL_MODES:
            raise AwsError(f"credentials mode {self.credentials!r} is unknown",
                           hint="use process (credential_process, no secret in files), keys (plain keys) or auto")
        if self.access_key_id is not None and not KEY_ID_RE.match(self.access_key_id):
            raise AwsError("the access key id has spaces or odd characters", hint="paste the key id alone")
        for label, value in (("secret_env", self.secret_env), ("secret_keyring", self.secret_keyring)):
            if value is not None and not re.match(r"^[A-Za-z0-9_.:/@-]+$", value):
                raise AwsError(f"{label} {value!r} is not a variable or keyring name", hint="use letters, digits and _")
        ca = self.ca_bundle
        if ca is not None:
            if "\n" in ca or "\r" in ca:
                raise AwsError("the CA bundle path has a line break", hint="give a plain file path")
            ca = str(Path(ca).expanduser())
            if not Path(ca).is_file():
                raise AwsError(f"CA bundle {ca} does not exist", hint="give the PEM file of the cloud's CA")
            _check_ca_bundle(ca)
        return dataclasses.replace(self, endpoint_url=gateway, endpoints=dict(sorted(endpoints.items())),
                                   ca_bundle=ca)

    def resolve_secret(self) -> Secret | None:
        """Return the secret access key (from the Secret, env or keyring), or None when no key id is set."""
        if self.access_key_id is None:
            return None
        if self.secret is not None:
            return self.secret
        if not self.secret_env and not self.secret_keyring:
            raise AwsError(f"profile {self.name}: an access key id but no secret",
                           hint="give secret_env (an environment variable) or secret_keyring (a keyring user)")
        return lookup_secret(self.name, env=self.secret_env, keyring_user=self.secret_keyring)


def _check_ca_bundle(path: str) -> None:
    """Refuse a CA bundle that TLS cannot load (not PEM certificates), as aws and boto3 would on every call.

    Read by Python's ``ssl`` module, the loader urllib3 (under botocore) hands the file to.
    """
    import ssl

    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError, OSError) as exc:
        why = exc.strerror if type(exc) is not ssl.SSLError and getattr(exc, "strerror", None) else \
            "no PEM certificate in it"
        raise AwsError(f"CA bundle {path} cannot be used ({why})",
                       hint="give the PEM file of the cloud's CA (-----BEGIN CERTIFICATE----- ...)") from None


def lookup_secret(name: str, *, env: str | None = None, keyring_user: str | None = None) -> Secret:
    """Return profile ``name``'s secret key from the environment variable ``env``, else the keyring.

    The one lookup for writing a profile and for ``labkit aws credential-process``: the keyring user
    defaults to ``aws/NAME``. Raises ConfigError saying where it looked when there is none.
    """
    from labkit.config import get_secret

    secret = get_secret(f"aws.{name}.secret", env=env, keyring_user=keyring_user or f"aws/{name}")
    assert secret is not None
    if any(c in secret.reveal() for c in "\r\n") or secret.reveal() != secret.reveal().strip():
        raise AwsError("the secret key has spaces or line breaks around it", hint="store the key alone")
    return secret


def check_url(url: str, what: str = "endpoint URL") -> str:
    """Return a cleaned endpoint URL, or raise AwsError when it has no scheme, host, a bad port or a password.

    Messages show the URL through ``labkit.http.mask_urls``: a user name or password typed into it never
    reaches them.
    """
    url = (url or "").strip()
    if not url:
        raise AwsError(f"{what} is empty", hint="give a URL like http://10.0.0.1:8773/services/compute")
    from labkit.http import mask_urls

    shown = mask_urls(url)
    authority = url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in authority:
        where = f"{what} {shown!r}" if "://" in url else what
        raise AwsError(f"{where} has a user name or password in it",
                       hint="aws and boto3 never send it, and labkit never writes it to a file: give the URL "
                            "without it, and the key as access key id and secret")
    if any(c.isspace() for c in url):
        raise AwsError(f"{what} {shown!r} has spaces or line breaks", hint="give one URL")
    if "://" not in url:
        raise AwsError(f"{what} {shown!r} has no scheme (aws would say 'Invalid endpoint')",
                       hint=f"write http://{shown} or https://{shown}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise AwsError(f"{what} {shown!r} has a bad port or host",
                       hint="use a host name or address and a port from 1 to 65535") from None
    if parts.scheme not in ("http", "https"):
        raise AwsError(f"{what} {shown!r} uses scheme {parts.scheme!r}", hint="use http:// or https://")
    if not parts.hostname:
        raise AwsError(f"{what} {shown!r} has no host", hint="write scheme://host:port/path")
    if parts.query or parts.fragment:
        raise AwsError(f"{what} {shown!r} has a query or fragment", hint="give the service's base URL only")
    return url
