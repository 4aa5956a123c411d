"""labkit: a JupyterLab workbench for engineers who build, test and ship a private cloud.

Importing labkit is cheap: heavy libraries (pandas, ipywidgets, boto3, libvirt, zeep) are
imported inside the functions that need them.
"""

from __future__ import annotations

from labkit.errors import ConfigError, HttpError, LabkitError, SandboxError

__version__ = "0.1.0"

__all__ = ["ConfigError", "HttpError", "LabkitError", "SandboxError", "__version__"]
