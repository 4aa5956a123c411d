"""The error type of checks of a running cloud and the release chain."""

from __future__ import annotations

from labkit.errors import LabkitError


class CloudError(LabkitError):
    """A cloud check or a release-check step could not run as asked (bad input, missing piece)."""
