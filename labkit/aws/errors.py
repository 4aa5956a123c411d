"""The one error type of the awscli provider job."""

from __future__ import annotations

from labkit.errors import LabkitError


class AwsError(LabkitError):
    """A cloud profile, an awscli config file or a verification step is wrong; the hint says what to do."""
