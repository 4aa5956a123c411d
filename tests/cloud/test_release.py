"""The release check end to end on the sandboxes, and a failure injected at each step.

Forge PR -> scratch worktree and tests -> a cloud launched on libvirt's test driver -> the awscli profile
derived from the plan, written and verified against moto behind the Eucalyptus layout -> the smoke test
-> a comment on the Jira sandbox, read back through REST v2 (wiki markup) and v3 (ADF).
"""

from __future__ import annotations

import http.server
import threading
import urllib.request

import pytest

from labkit.cloud import release_check
from labkit.sandbox import free_port
from tests.cloud.conftest import (
    adf_rows,
    comment_count,
    final_rows,
    last_comment,
    leftovers,
    wiki_rows,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PR = "demo/calc#1"
TESTS = "python3 -m unittest -q"


def chain(common, plan_file, jira, **over):
    """Run the chain for real with the sandbox's settings, overridden by ``over``."""
    args = {**common, "onto": "release-1.x", "plan_file": plan_file, "issue": "DEMO-1", "jira": jira,
            "test_cmd": TESTS, "test_each": True, "dry_run": False, **over}
    source = args.pop("source", PR)
    return release_check(source, **args)


def statuses(run) -> dict[str, str]:
    """Return step -> status of the final table."""
    return {r["step"]: r["status"] for r in run.final}


def test_dry_run_changes_nothing(common, plan_file, jira, nothing_left_in_tmp):
    before = comment_count(jira, "DEMO-1")
    run = chain(common, plan_file, jira, dry_run=True, transition="In Review")
    assert [r["status"] for r in run.final[:4]] == ["dry run"] * 4
    assert run.ok and run.comment.status == "dry run", run.reason()
    assert "||step||status||detail||" in run.comment.value["body"]
    assert comment_count(jira, "DEMO-1") == before
    assert not common["config_file"].exists()
    assert leftovers() == {}


def test_end_to_end_passes_posts_the_table_and_leaves_nothing(common, plan_file, jira, nothing_left_in_tmp):
    run = chain(common, plan_file, jira, transition="In Progress", deployment="server")
    assert run.ok, run.reason()
    assert statuses(run) == {"1 review and test": "pass", "2 test cloud": "pass", "3 awscli profile": "pass",
                             "4 smoke test": "pass", "clean up": "pass", "5 transition": "pass", "5 comment": "pass"}
    smoke = {r.step: r.status for r in run.steps[3].rows}
    # moto cannot honour the plan's addresses or run a guest: said so, never a pass
    assert smoke["public IP"] == smoke["private IP"] == smoke["reach"] == "not checkable on the sandbox"
    assert smoke["wait running"] == smoke["terminate"] == smoke["delete key pair"] == "pass"
    waited = {r["item"].split(":")[-1]: r["status"] for r in run.steps[1].rows if r["part"] == "wait"}
    assert waited == {"22": "not checkable on the sandbox", "8443": "not checkable on the sandbox",
                      "8888": "not checkable on the sandbox", "8773": "pass"}
    assert "[services rc1]" in common["config_file"].read_text()
    posted = last_comment(jira, "DEMO-1", "2")["body"]
    assert wiki_rows(posted) == final_rows(run)
    issue = jira.session.get("/rest/api/2/issue/DEMO-1", params={"fields": "status"}).json()
    assert issue["fields"]["status"]["name"] == "In Progress"
    assert leftovers() == {}


def test_patch_conflict_stops_at_review(common, plan_file, jira, nothing_left_in_tmp):
    run = chain(common, plan_file, jira, source="demo/calc#2", deployment="cloud")
    assert run.stopped_at == "1 review and test"
    assert statuses(run)["1 review and test"] == "fail" and "conflict" in run.final[0]["detail"]
    assert "\n" not in run.reason()
    assert [r["status"] for r in run.final[1:4]] == ["skip"] * 3
    assert run.final[1]["detail"] == "not run: the chain stopped at 1 review and test"
    assert adf_rows(last_comment(jira, "DEMO-1", "3")["body"]) == final_rows(run)
    assert leftovers() == {}


def test_failing_test_stops_at_review(common, plan_file, jira, nothing_left_in_tmp):
    run = chain(common, plan_file, jira, source="demo/calc#3", onto="main", deployment="server")
    assert run.stopped_at == "1 review and test"
    assert "tests-failed" in run.final[0]["detail"]
    assert wiki_rows(last_comment(jira, "DEMO-1", "2")["body"]) == final_rows(run)
    assert leftovers() == {}


def test_vm_never_ready_stops_at_the_cloud_and_destroys_it(common, plan_file, jira, nothing_left_in_tmp):
    dead = free_port()  # nothing listens there: the API port never answers
    run = chain(common, plan_file, jira, forwards={8773: f"127.0.0.1:{dead}"}, wait_timeout=2, deployment="cloud")
    assert run.stopped_at == "2 test cloud"
    assert "never answered on port 8773" in run.final[1]["detail"]
    assert statuses(run)["clean up"] == "pass" and "undefine rc1-ciab" in run.final[4]["detail"]
    assert adf_rows(last_comment(jira, "DEMO-1", "3")["body"]) == final_rows(run)
    assert leftovers() == {}


def test_vm_kept_when_cleanup_not_asked(common, plan_file, jira, nothing_left_in_tmp):
    from labkit.vm import destroy, load_plan

    dead = free_port()
    run = chain(common, plan_file, jira, forwards={8773: f"127.0.0.1:{dead}"}, wait_timeout=1, cleanup=False,
                issue=None)
    assert run.stopped_at == "2 test cloud" and run.cleanup.status == "skip"
    assert leftovers()["domains"] == ["rc1-ciab"]
    destroy(load_plan(plan_file)[0], uri="test:///default", dry_run=False)
    assert leftovers() == {}


def test_verify_failure_stops_at_the_profile(common, plan_file, jira, nothing_left_in_tmp):
    dead = free_port()
    run = chain(common, plan_file, jira, profile_url=f"http://127.0.0.1:{dead}", verify_checks=["sts"],
                deployment="server")
    assert run.stopped_at == "3 awscli profile"
    assert run.final[2]["detail"].startswith("verify of rc1:") and str(dead) in run.final[2]["detail"]
    assert statuses(run)["clean up"] == "pass"
    assert wiki_rows(last_comment(jira, "DEMO-1", "2")["body"]) == final_rows(run)
    assert leftovers() == {}


class _PendingForever(http.server.BaseHTTPRequestHandler):
    """A stand-in fault: forwards to the Eucalyptus front, but every instance it describes is still pending."""

    target = ""

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        req = urllib.request.Request(self.target + self.path, data=body, method="POST",
                                     headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "text/xml")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "text/xml")
        if b"Action=DescribeInstances" in body:
            data = data.replace(b"<code>16</code>", b"<code>0</code>").replace(b"<name>running</name>",
                                                                                b"<name>pending</name>")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_instance_never_running_stops_at_the_smoke_test_and_removes_it(common, plan_file, jira, nothing_left_in_tmp):
    handler = type("Handler", (_PendingForever,), {"target": common["profile_url"]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = chain(common, plan_file, jira, profile_url=f"http://127.0.0.1:{server.server_port}",
                    smoke_options={"timeout": 3, "stand_in": True}, deployment="cloud")
    finally:
        server.shutdown()
        server.server_close()
    assert run.stopped_at == "4 smoke test"
    assert run.final[3]["detail"].startswith("wait running: i-") and "last state: pending" in run.final[3]["detail"]
    smoke = {r.step: r.status for r in run.steps[3].rows}
    assert smoke["terminate"] == smoke["delete key pair"] == smoke["delete sandbox subnet"] == "pass"
    assert smoke["public IP"] == smoke["reach"] == "skip"
    assert adf_rows(last_comment(jira, "DEMO-1", "3")["body"]) == final_rows(run)
    assert leftovers() == {}


def test_jira_500_on_the_transition_still_posts_the_table(common, plan_file, jira, nothing_left_in_tmp):
    jira.session.post("/_sandbox/faults", json={"rules": [
        {"path": "/rest/api/2/issue/DEMO-2/transitions", "method": "POST", "status": 500, "times": 5}]})
    to = jira.session.get("/rest/api/2/issue/DEMO-2/transitions").json()["transitions"][0]["name"]
    try:
        run = chain(common, plan_file, jira, issue="DEMO-2", transition=to, deployment="server")
    finally:
        jira.session.delete("/_sandbox/faults")
    assert statuses(run)["5 transition"] == "fail"
    assert "500" in run.transition.detail and "\n" not in run.transition.detail
    assert not run.ok and run.reason().startswith("5 transition: DEMO-2:")
    assert wiki_rows(last_comment(jira, "DEMO-2", "2")["body"]) == final_rows(run)
    assert leftovers() == {}


def test_jira_500_on_the_comment_is_a_one_line_reason(common, plan_file, jira, nothing_left_in_tmp):
    before = comment_count(jira, "DEMO-3")
    jira.session.post("/_sandbox/faults", json={"rules": [
        {"path": "/rest/api/2/issue/DEMO-3/comment", "method": "POST", "status": 500, "times": 5}]})
    try:
        run = chain(common, plan_file, jira, source="demo/calc#2", issue="DEMO-3", deployment="server")
    finally:
        jira.session.delete("/_sandbox/faults")
    assert run.final[-1]["step"] == "5 comment" and run.final[-1]["status"] == "fail"
    assert "500" in run.final[-1]["detail"] and "\n" not in run.final[-1]["detail"]
    assert comment_count(jira, "DEMO-3") == before


def test_an_mbox_file_applies_onto_a_local_clone(sandboxes, tmp_path, nothing_left_in_tmp):
    import subprocess

    from labkit.cloud import review_step
    from labkit.review import PullRequest

    pr = PullRequest.from_url(PR, base_url=sandboxes["forge_url"])
    mbox = tmp_path / "series.mbox"
    mbox.write_bytes(urllib.request.urlopen(pr.patch_url, timeout=30).read())  # noqa: S310 - the sandbox forge
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", pr.repository()["clone_url"], str(clone)], check=True)
    step = review_step(str(mbox), onto="release-1.x", repo=clone, test_cmd=TESTS, test_each=True, dry_run=False)
    assert step.status == "pass" and step.detail.startswith("file series.mbox: 2 commit(s) applied onto release-1.x")
    assert [r["test"] for r in step.rows] == ["pass", "pass"]
    heads = subprocess.run(["git", "-C", str(clone), "worktree", "list"], capture_output=True, text=True).stdout
    assert len(heads.splitlines()) == 1  # the scratch worktree is gone; the clone's branches did not move
    step = review_step(str(mbox), onto="release-1.x", dry_run=False)
    assert step.status == "fail" and "no repository to apply it to" in step.detail and "\n" not in step.detail
