"""labkit: a JupyterLab workbench for engineers who build, test and ship a private cloud.

Importing labkit is cheap: heavy libraries (pandas, ipywidgets, boto3, libvirt, zeep) are
imported inside the functions that need them.
"""

from __future__ import annotations

from typing import Any

from labkit.errors import ConfigError, HttpError, LabkitError, RunError, SandboxError

__version__ = "0.1.0"

__all__ = ["ConfigError", "HttpError", "LabkitError", "RunError", "SandboxError", "__version__", "run"]


def __getattr__(name: str) -> Any:
    """Load ``labkit.run`` (papermill runs, callable as ``labkit.run(notebook, parameters)``) on first use."""
    if name == "run":
        import importlib

        return importlib.import_module("labkit.run")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
