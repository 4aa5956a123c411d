"""`import labkit` stays fast: no heavy library is imported with it."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ["pandas", "ipywidgets", "zeep", "libvirt", "boto3", "botocore", "IPython", "tqdm", "numpy", "requests",
         "papermill", "nbconvert", "nbclient", "jupyter_client", "zmq", "itables"]


@pytest.mark.parametrize("module", ["labkit", "labkit.config", "labkit.sandbox", "labkit.cli", "labkit.tables",
                                    "labkit.doctor", "labkit.lab", "labkit.assets",
                                    "labkit.run", "labkit.redact", "labkit.forms.notes",
                                    "labkit.jira", "labkit.rank", "labkit.vm", "labkit.aws", "labkit.review",
                                    "labkit.vm.cli", "labkit.aws.cli", "labkit.review.cli", "labkit.sandbox.cli"])
def test_import_pulls_in_no_heavy_library(module):
    code = (f"import sys, {module}; heavy = {HEAVY!r}; "
            "print(','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    leaked = set(filter(None, out.split(",")))
    assert not leaked, f"import {module} imported {sorted(leaked)}"


def test_every_error_derives_from_labkit_error():
    import importlib
    import inspect
    import pkgutil

    import labkit
    from labkit import LabkitError

    seen = []
    for info in pkgutil.walk_packages(labkit.__path__, "labkit."):
        if info.name.endswith("errors"):
            mod = importlib.import_module(info.name)
            for _, obj in inspect.getmembers(mod, inspect.isclass):
                if issubclass(obj, Exception) and obj.__module__ == mod.__name__:
                    seen.append(obj)
                    assert issubclass(obj, LabkitError), obj
    assert len(seen) >= 4


def test_labkit_run_is_callable_and_loads_lazily():
    code = ("import sys, labkit; assert 'labkit.run' not in sys.modules; "
            "import labkit.run as m; assert labkit.run is m and callable(labkit.run); print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"
