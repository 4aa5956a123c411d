"""`labkit jira search --format csv` holds exactly the DataFrame the library returns for the same JQL."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pandas as pd
import pytest

import labkit.sandbox as sb
from labkit.jira.client import JiraClient

pytestmark = [pytest.mark.integration]

JQLS = ['project = DEMO ORDER BY Rank ASC', 'text ~ "disk" ORDER BY key ASC',
        'status in ("In Progress", "In Review") OR priority = High ORDER BY created DESC']


@pytest.fixture(scope="module")
def jira(tmp_path_factory):
    """The sandbox jira service in a module-wide run dir: (run dir, client); stopped at the end."""
    rd = tmp_path_factory.mktemp("run")
    old = os.environ.get("LABKIT_RUN_DIR")
    os.environ["LABKIT_RUN_DIR"] = str(rd)
    try:
        sb.start(["jira"])
        yield rd, JiraClient(sb.url("jira"), ("admin", sb.secret("jira")), progress=False)
    finally:
        sb.stop(rd=rd)
        if old is None:
            os.environ.pop("LABKIT_RUN_DIR", None)
        else:
            os.environ["LABKIT_RUN_DIR"] = old


def cell_back(column: pd.Series, text: list[str]) -> list:
    """Read CSV cells back into the DataFrame column's kind of value."""
    sample = next((v for v in column if v is not None and not (isinstance(v, float) and v != v)), None)
    if isinstance(sample, list) or column.name in ("labels", "components", "blocked_by", "blocks"):
        return [t.split(", ") if t else [] for t in text]
    if str(column.dtype).startswith("datetime64"):
        return list(pd.to_datetime(pd.Series(text).replace("", None), utc=True, format="ISO8601"))
    return [t if t != "" else None for t in text]


def normal(column: pd.Series) -> list:
    """The DataFrame's values with missing ones as None (NaT, NaN) and timestamps in UTC."""
    out = []
    for v in column:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            out.append(None if not str(column.dtype).startswith("datetime64") else pd.NaT)
        else:
            out.append(v)
    return out


@pytest.mark.parametrize("jql", JQLS)
def test_csv_equals_the_library_dataframe(jira, jql):
    rd, client = jira
    df = client.search(jql)
    r = subprocess.run([sys.executable, "-m", "labkit.cli", "jira", "search", jql, "--format", "csv"],
                       env={**os.environ, "LABKIT_RUN_DIR": str(rd)}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    header, body = rows[0], rows[1:]
    assert header == list(df.columns)
    assert len(body) == len(df) > 0
    for i, name in enumerate(header):
        back = cell_back(df[name], [row[i] for row in body])
        want = normal(df[name])
        if str(df[name].dtype).startswith("datetime64"):
            assert [None if pd.isna(a) else a for a in back] == [None if pd.isna(b) else b for b in want], name
        else:
            assert back == [str(v) if v is not None and not isinstance(v, list) else v for v in want], name
