"""A small demo backlog as Jira REST issue JSON, with blocking links out of rank order and one cycle."""

from __future__ import annotations

import random
from typing import Any

from labkit.jira.model import BLOCKS_LINK_TYPE, status_category

_WORDS = ("Volume attach", "Floating IP", "Image upload", "Node controller", "Cluster controller", "Walrus bucket",
          "Security group", "Load balancer", "Snapshot", "Key pair", "Instance console", "DHCP lease")
_WHAT = ("fails after reboot", "is slow under load", "needs a retry", "loses state on failover",
         "shows stale data", "times out", "needs docs", "needs a config switch")


def _issue(key: str, summary: str, done: bool) -> dict[str, Any]:
    """One REST-shaped issue with an open or done status."""
    status = ({"id": "6", "name": "Closed", "statusCategory": status_category("done")} if done else
              {"id": "1", "name": "Open", "statusCategory": status_category("new")})
    return {"id": str(10000 + int(key.rsplit("-", 1)[1])), "key": key,
            "fields": {"summary": summary, "status": status, "project": {"key": key.rsplit("-", 1)[0]},
                       "issuelinks": []}}


def demo_backlog(n: int = 40, links: int = 18, seed: int = 5) -> tuple[list[str], list[dict[str, Any]]]:
    """Return (backlog order, REST issues): ``links`` Blocks links, about half against the rank, plus a 2-cycle.

    Both ends of each link carry it (inwardIssue on the blocked issue, outwardIssue on the blocker),
    as Jira returns them; one blocker is done (left out by default) and one is in another project.
    """
    rng = random.Random(seed)
    keys = [f"LAB-{i}" for i in range(1, n + 1)]
    issues = {k: _issue(k, f"{rng.choice(_WORDS)} {rng.choice(_WHAT)}", done=False) for k in keys}
    issues["OPS-1"] = _issue("OPS-1", "Upgrade the storage network switches", done=False)
    issues["LAB-0"] = _issue("LAB-0", "Old blocker, already fixed", done=True)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < links:
        a, b = rng.sample(range(n), 2)
        if (keys[a], keys[b]) not in pairs and (keys[b], keys[a]) not in pairs:
            pairs.append((keys[a], keys[b]))
    pairs += [(keys[3], keys[7]), (keys[7], keys[3]), ("OPS-1", keys[1]), ("LAB-0", keys[2])]
    btype = BLOCKS_LINK_TYPE
    for n_link, (blocker, blocked) in enumerate(dict.fromkeys(pairs), start=20000):
        stub = lambda k: {"id": issues[k]["id"], "key": k,  # noqa: E731 - tiny local helper
                          "fields": {"summary": issues[k]["fields"]["summary"], "status": issues[k]["fields"]["status"]}}
        issues[blocked]["fields"]["issuelinks"].append({"id": str(n_link), "type": btype, "inwardIssue": stub(blocker)})
        issues[blocker]["fields"]["issuelinks"].append({"id": str(n_link), "type": btype, "outwardIssue": stub(blocked)})
    return keys, [issues[k] for k in keys]
