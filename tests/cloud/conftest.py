"""Fixtures for the release check: the three sandboxes in a private run folder, a plan file, a Jira client, leftovers."""

from __future__ import annotations

import os
import re

import pytest

from tests.review.conftest import nothing_left_in_tmp  # noqa: F401 - the same fixture here

CLOUD = "rc1"
ISO = "/var/lib/libvirt/isos/silvereye.iso"
URI = "test:///default"


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    """The forge, moto behind the Eucalyptus layout and the Jira sandbox, started once per module and stopped after."""
    import keyring
    from keyring.backends import null

    import labkit.sandbox as sandbox
    from labkit.cloud.sandbox import sandbox_settings

    rd = tmp_path_factory.mktemp("run")
    previous = keyring.get_keyring()
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AWS_", "LABKIT_")) or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                mp.delenv(name)
        mp.setenv("LABKIT_RUN_DIR", str(rd))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        home = tmp_path_factory.mktemp("home")
        mp.setenv("HOME", str(home))
        mp.setenv("LABKIT_CONFIG", str(home / "labkit.toml"))
        keyring.set_keyring(null.Keyring())
        try:
            settings = sandbox_settings(CLOUD)
            yield {"run_dir": rd, **settings}
        finally:
            sandbox.stop(rd=rd)
            keyring.set_keyring(previous)


@pytest.fixture
def plan_file(tmp_path):
    """A plan file holding one cloud-in-a-box planned on libvirt's test driver."""
    from labkit.vm import Lab, save_plan

    plan = Lab.from_host(URI).plan_cloud(CLOUD, topology="ciab", iso=ISO)
    return save_plan(tmp_path / "lab.toml", [plan])


@pytest.fixture
def jira(sandboxes):
    """A REST client of the Jira sandbox."""
    from labkit.jira.client import JiraClient

    with JiraClient.from_profile() as client:
        yield client


def ec2_gateway(region: str = CLOUD):
    """A boto3 EC2 client on the sandbox's moto itself (not through the profile under test)."""
    import boto3

    from labkit.aws.sandbox import endpoints

    return boto3.client("ec2", region_name=region, endpoint_url=endpoints()["gateway"], aws_access_key_id="labkit",
                        aws_secret_access_key="labkit")


def leftovers() -> dict[str, list[str]]:
    """Return what a release check may leave behind: domains, volumes, labkit's key pairs, live instances, subnets."""
    from labkit.vm import connect

    conn = connect(URI)
    domains = [d.name() for d in conn.listAllDomains() if d.name().startswith(CLOUD)]
    volumes = [v.name() for p in conn.listAllStoragePools() for v in p.listAllVolumes() if v.name().startswith(CLOUD)]
    ec2 = ec2_gateway()
    keys = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("labkit-smoke")]
    live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
            if i["State"]["Name"] not in ("terminated", "shutting-down")]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    return {k: v for k, v in {"domains": domains, "volumes": volumes, "key pairs": keys, "instances": live,
                              "subnets": subnets}.items() if v}


# -- oracles for the comment, written from Atlassian's documentation and sharing no code with labkit.cloud.comment --

def wiki_rows(body: str) -> list[list[str]]:
    """Read a wiki markup table back: "||heading 1||heading 2||" then "|col A1|col A2|" rows.

    Atlassian's notation guide (Tables): "Allows you to create a table ... You can use a double bar for a
    table heading row." and (Text Breaks / escaping) "\\X" shows the character X as it is.
    """
    rows = []
    for line in body.splitlines():
        if not line.startswith("|"):
            continue
        sep = "||" if line.startswith("||") else "|"
        cells = re.split(r"(?<!\\)" + re.escape(sep), line)[1:-1]
        rows.append([re.sub(r"\\(.)", r"\1", c).strip() for c in cells])
    return rows


def adf_rows(doc: dict) -> list[list[str]]:
    """Read an ADF table back: table > tableRow > tableHeader|tableCell > paragraph > text.

    Atlassian's ADF node reference: "table ... content must contain one or more tableRow nodes";
    "tableRow ... content must contain one or more tableHeader or tableCell nodes"; a cell holds block
    nodes such as paragraph, whose content holds text nodes.
    """
    assert doc["type"] == "doc" and doc["version"] == 1

    def text(node) -> str:
        if node.get("type") == "text":
            return node["text"]
        return "".join(text(c) for c in node.get("content", []))

    tables = [n for n in doc["content"] if n["type"] == "table"]
    assert len(tables) == 1
    return [[text(cell) for cell in row["content"] if cell["type"] in ("tableHeader", "tableCell")]
            for row in tables[0]["content"] if row["type"] == "tableRow"]


def final_rows(run) -> list[list[str]]:
    """The notebook's final table as text rows, header first."""
    return [["step", "status", "detail"]] + [[r["step"], r["status"], r["detail"]] for r in run.final]


def last_comment(jira, key: str, version: str) -> dict:
    """Read the newest comment of an issue through REST v2 or v3 (not through labkit.cloud)."""
    comments = jira.session.get(f"/rest/api/{version}/issue/{key}/comment").json()["comments"]
    return comments[-1]


def comment_count(jira, key: str) -> int:
    """Count the comments of an issue."""
    return len(jira.session.get(f"/rest/api/2/issue/{key}/comment").json()["comments"])


@pytest.fixture
def common(sandboxes, tmp_path):
    """The release check's keyword arguments on the sandbox (awscli files in the test's own folder)."""
    kw = {k: v for k, v in sandboxes.items() if k != "run_dir"}
    kw["forwards"] = dict(kw["forwards"])
    return {**kw, "config_file": tmp_path / "aws" / "config", "credentials_file": tmp_path / "aws" / "credentials",
            "verify_checks": ["sts", "ec2"], "wait_timeout": 5, "uri": URI}

