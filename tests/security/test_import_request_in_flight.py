"""A bulk import killed while its request was in flight: the quick rerun must not create those issues again.

Found by the kill loop (tests/security/test_kill_loops.py), where it failed now and then: SIGKILL stops
the client, not the server, which goes on creating the batch the dead process sent. A rerun started at
once looked the batch's labels up before the server had committed it (searches read a snapshot beside
the writer, as Jira's index lags its writes), found nothing, and created the batch a second time. The
"kill" here is an exception raised right after the batch is sent from a thread that delivers it a
moment later: deterministic, where the loop needed an unlucky moment on a loaded machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

import labkit.sandbox as sb
import labkit.tracker.bulk_import as bi
from labkit.jira.client import JiraClient
from labkit.tracker import rt

pytestmark = pytest.mark.integration

DELAY = 1.0  # seconds the dead run's request takes to reach the server (well inside bi.SETTLE_SECONDS)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it in the run happens."""


def test_a_rerun_right_after_a_kill_mid_request_creates_nothing_twice(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sb.start(["jira"])
    client = JiraClient.from_profile(progress=False)
    tickets = list(rt.generate_tickets(70, seed=3, link_ratio=0.5))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"project": "NET", "label_prefix": "fl"}))
    plan = bi.plan_import(tickets, bi.Mapping.from_file(mapping))
    journal = tmp_path / "import.journal"
    real_bulk_create = bi._bulk_create
    late: list[threading.Thread] = []

    def sent_then_killed(c, updates):
        """Send the batch from a thread that delivers it later; the run dies at once."""
        def deliver():
            time.sleep(DELAY)
            real_bulk_create(c, updates)

        late.append(threading.Thread(target=deliver))
        late[-1].start()
        raise Killed()

    try:
        monkeypatch.setattr(bi, "_bulk_create", sent_then_killed)
        with pytest.raises(Killed):
            bi.run_import(plan, client, journal, set_status=False)
        monkeypatch.setattr(bi, "_bulk_create", real_bulk_create)
        bi.run_import(plan, client, journal, set_status=False)  # the rerun, started at once
    finally:
        for t in late:
            t.join()
    labels = ", ".join(f'"fl-{t.id}"' for t in tickets)
    per_source = Counter(label for issue in client.search_issues(f"labels in ({labels})", ["labels"],
                                                                 progress=False)
                         for label in issue["fields"]["labels"] if label.startswith("fl-"))
    client.close()
    assert set(per_source) == {f"fl-{t.id}" for t in tickets}
    assert set(per_source.values()) == {1}, f"imported twice: {[k for k, v in per_source.items() if v > 1]}"
