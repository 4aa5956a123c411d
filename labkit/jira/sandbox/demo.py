"""A demo tracker: realistic REST-shaped Jira issues at any size, the same for the same seed.

``generate(n)`` streams issues (projects, statuses with categories, issue types, priorities,
assignees, comments, changelog histories, Blocks links on both issues, LexoRank ranks), so a
million issues never sit in memory; ``seed_store(store, n)`` imports them into a ``Store``.
Histories walk a configurable workflow (:class:`labkit.jira.sandbox.histories.DemoWorkflow`)
with skipped statuses, backward moves, reopenings, flags and a share of long histories.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from labkit.jira.model import BLOCKS_LINK_TYPE, RANK_FIELD
from labkit.jira.sandbox.fields import ISSUE_TYPES as _CONFIGURED_TYPES
from labkit.jira.sandbox.fields import PRIORITIES as _CONFIGURED_PRIORITIES
from labkit.jira.sandbox.histories import DEFAULT_STATUSES, DemoWorkflow, history
from labkit.jira.store.rank import rank_of

PROJECTS: tuple[tuple[str, str], ...] = (("DEMO", "Demo Cloud"), ("OPS", "Operations"), ("NET", "Networking"))
STATUSES = list(DEFAULT_STATUSES)
_STATUS_WEIGHTS = [12, 10, 8, 4, 16, 50]
ISSUE_TYPES = [{k: t[k] for k in ("id", "name", "subtask")} for t in _CONFIGURED_TYPES[:5]]
_TYPE_WEIGHTS = [40, 25, 20, 13, 2]
PRIORITIES = _CONFIGURED_PRIORITIES
_PRIO_WEIGHTS = [3, 15, 55, 20, 7]
RESOLUTIONS = [{"id": "1", "name": "Fixed"}, {"id": "2", "name": "Won't Fix"}, {"id": "3", "name": "Duplicate"},
               {"id": "5", "name": "Cannot Reproduce"}]
BLOCKS = BLOCKS_LINK_TYPE
_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
          "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "admin"]
_COMPONENTS = ["storage", "network", "compute", "identity", "dashboard", "api", "scheduler", "images"]
_LABELS = ["regression", "customer", "security", "performance", "docs", "flaky-test", "upgrade", "ha"]
_SUBJECTS = ["disk space", "volume attach", "floating IP", "security group", "image upload", "node controller",
             "cloud controller", "walrus bucket", "instance launch", "bridge br0", "DHCP lease", "DNS name",
             "metadata service", "snapshot", "load balancer", "quota", "keypair", "VNC console", "boot disk",
             "live migration", "LVM volume", "iSCSI target", "MAC address", "VLAN tag", "certificate"]
_PROBLEMS = ["fails when", "is slow after", "leaks memory during", "times out on", "reports wrong size after",
             "crashes with", "is not cleaned up after", "shows stale state after", "breaks", "needs docs for"]
_CONTEXTS = ["a reboot", "an upgrade", "a failover", "heavy load", "the nightly job", "a network partition",
             "Windows guests", "Ubuntu images", "large volumes", "many tenants", "the first login"]
_SENTENCES = [
    "Steps to reproduce: launch an instance and attach a volume.",
    "The log shows an error about {s} shortly before it happens.",
    "We ran out of space on the node controller while {c}.",
    "Expected the {s} to be available within a minute, it took ten.",
    "This looks related to the change in the storage driver.",
    "Workaround: restart the service and retry the request.",
    "Customers on the {p} cluster see this every week.",
    "The behaviour changed after {c}; before that it worked.",
    "Please check the space left on the disk before the test run.",
    "Attached the output of the CLI with debug logging.",
]
_COMMENTS = ["Reproduced on the lab cloud.", "Cannot reproduce with the latest build.",
             "Fixed in the next release, please verify.", "Is this still a problem after {c}?",
             "Raising the priority: a customer hit it.", "Duplicate of an older report about {s}.",
             "The free space check should catch this earlier.", "Verified, closing."]
_FILLER = (
    "agent alarm allocation api archive audit backend backup bandwidth batch benchmark binary boot bucket cache "
    "capacity cert checksum cli client cluster config connection console container controller cpu cron daemon "
    "database deadlock default deploy device dhcp disk dns driver endpoint error event export failover filesystem "
    "firewall gateway guest handler hash header health host hypervisor image index inode install interface iptables "
    "job journal kernel key latency lease library limit link listener load lock log loop mapping memory metadata "
    "metric migration mirror module monitor mount network node nova offset package packet page parser partition "
    "patch payload permission pipeline plugin policy pool port process profile protocol provider proxy queue quota "
    "raid rate record region registry replica request resize resource restart retry role rollback route router "
    "rule runtime sandbox scheduler schema script secret sector server service session shard shell signal snapshot "
    "socket space stack storage stream subnet swap switch sync syslog table tenant thread throttle timeout token "
    "topology trace tunnel upgrade uplink usage user vlan volume vswitch watchdog webhook worker zone"
).split()
_FILLER_WEIGHTS = [1.0 / (k + 1) for k in range(len(_FILLER))]

_ENVS = ["Ubuntu 22.04, KVM", "RHEL 9, qemu 8.1", "CentOS 7, Xen", "Debian 12, libvirt 9.0", None, None, None]


def _ts(dt: datetime) -> str:
    """Format a datetime as a Jira REST timestamp."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _user(name: str) -> dict:
    """A REST user object for a login name."""
    return {"name": name, "key": name, "displayName": name.capitalize(), "active": True}


def generate(n_issues: int, *, seed: int = 0, projects: Sequence[tuple[str, str]] = PROJECTS,
             start: datetime = datetime(2020, 1, 1), block_rate: float = 0.06,
             comments: bool = True, changelog: bool = True, extra_block_rate: float = 0.12,
             workflow: DemoWorkflow | None = None) -> Iterator[dict]:
    """Yield ``n_issues`` REST-shaped issues, deterministic by ``seed``, spread round-robin over ``projects``.

    Statuses and histories follow ``workflow`` (default :class:`DemoWorkflow`: Open, To Do, In
    Progress, In Review, Resolved, Closed); a custom workflow keeps the same share of issues in each
    status category.

    About ``block_rate`` of the issues are blocked by a later issue of the same project (the
    Blocks link is on both issues); ranks are shuffled within blocks of 100 so the backlog order
    differs from key order and some blockers rank below what they block. The first project also
    gets about ``extra_block_rate`` more open blocked issues and one blocking cycle (its issues 2, 3, 4),
    so a fresh sandbox has rank violations and a cycle to show.
    """
    rng = random.Random(seed)
    hrng = random.Random(f"{seed}/history")  # its own stream: histories do not shift the other fields
    wrng = random.Random(f"{seed}/workflow")  # the walks through the workflow, on a stream of their own
    srng = random.Random(f"{seed}/status")  # ... and the age-dependent statuses on theirs (same for any workflow)
    wf = workflow or DemoWorkflow()
    counters = [0] * len(projects)
    pending: dict[str, list[dict]] = {}
    open_blockers: set[str] = set()
    link_id = 20000
    perm: list[int] = []
    step = max(1, int(60 * 60 * 24 * 365 * 3 / max(n_issues, 1)))  # spread over about three years
    end = start + timedelta(seconds=n_issues * step)
    for i in range(n_issues):
        pi = i % len(projects)
        pkey, pname = projects[pi]
        counters[pi] += 1
        num = counters[pi]
        key = f"{pkey}-{num}"
        if i % 100 == 0:
            perm = list(range(100))
            rng.shuffle(perm)
        created = start + timedelta(seconds=i * step + rng.randrange(step))
        status = rng.choices(STATUSES, _STATUS_WEIGHTS)[0]
        in_cycle = pi == 0 and num in _CYCLE and _CYCLE[-1] * len(projects) <= n_issues
        if in_cycle:
            status = _BY_NAME["In Progress"]  # a blocking cycle among open issues, for the rank runbook
        elif key in open_blockers:
            status = _BY_NAME["To Do"]  # an extra blocker stays open, so its link counts
        elif (status["statusCategory"]["key"] == "indeterminate" and (n_issues - i) * step > _STALE
              and srng.random() < 0.97):
            status = _BY_NAME["Closed"]  # work started long ago is mostly finished by now
        elif (status["statusCategory"]["key"] == "done" and (n_issues - i) * step < _FRESH
              and srng.random() < 0.5):
            status = _BY_NAME[srng.choice(("In Progress", "In Review"))]  # recent work is often still going
        status = wf.final_status(status, STATUSES)
        done = status["statusCategory"]["key"] == "done"
        updated = created + timedelta(minutes=rng.randrange(1, 60 * 24 * 40))
        updated = max(created + timedelta(minutes=1), min(updated, end))  # nothing happens after the data's end
        subj, prob, ctx = rng.choice(_SUBJECTS), rng.choice(_PROBLEMS), rng.choice(_CONTEXTS)
        fmt = {"s": subj, "c": ctx, "p": pkey.lower()}
        desc = " ".join(rng.choice(_SENTENCES).format(**fmt) for _ in range(rng.randint(1, 3)))
        desc += " Notes: " + " ".join(rng.choices(_FILLER, _FILLER_WEIGHTS, k=rng.randint(5, 30))) + "."
        assignee = rng.choice(_USERS) if rng.random() < 0.8 else None
        reporter = rng.choice(_USERS)
        fields: dict = {
            "project": {"id": str(10000 + pi), "key": pkey, "name": pname},
            "issuetype": rng.choices(ISSUE_TYPES, _TYPE_WEIGHTS)[0],
            "summary": f"{subj.capitalize()} {prob} {ctx}",
            "description": desc,
            "environment": rng.choice(_ENVS),
            "status": status,
            "priority": rng.choices(PRIORITIES, _PRIO_WEIGHTS)[0],
            "resolution": rng.choice(RESOLUTIONS) if done else None,
            "resolutiondate": _ts(updated) if done else None,
            "created": _ts(created),
            "updated": _ts(updated),
            "assignee": _user(assignee) if assignee else None,
            "reporter": _user(reporter),
            "creator": _user(reporter),
            "labels": sorted(set(rng.sample(_LABELS, rng.choice((0, 0, 1, 1, 2))))),
            "components": [{"id": str(20000 + _COMPONENTS.index(c)), "name": c}
                           for c in sorted(rng.sample(_COMPONENTS, rng.choice((0, 1, 1, 2))))],
            "fixVersions": [], "versions": [],
            RANK_FIELD: rank_of((i // 100) * 100 + perm[i % 100]),
        }
        cms = []
        if comments:
            for k in range(rng.choice((0, 0, 1, 1, 2, 3))):
                when = created + timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
                author = _user(rng.choice(_USERS))
                cms.append({"id": str(100000 + i * 4 + k), "author": author, "updateAuthor": author,
                            "body": rng.choice(_COMMENTS).format(**fmt), "created": _ts(when), "updated": _ts(when)})
        fields["comment"] = {"comments": cms, "maxResults": len(cms), "total": len(cms), "startAt": 0}
        links = pending.pop(key, [])
        # this issue is blocked by a later issue of the same project (seen from both sides)
        if rng.random() < block_rate:
            later = num + rng.randint(1, 40)
            if (later - 1) * len(projects) + pi < n_issues:
                link_id += 1
                other = f"{pkey}-{later}"
                links.append({"id": str(link_id), "type": BLOCKS, "inwardIssue": {"id": "", "key": other, "fields": {}}})
                pending.setdefault(other, []).append(
                    {"id": str(link_id), "type": BLOCKS,
                     "outwardIssue": {"id": str(100000 + i), "key": key,
                                      "fields": {"summary": fields["summary"], "status": status}}})
        # extra blocking links from their own random stream: work ranked above its (later) blocker
        if pi == 0 and not done and hrng.random() < extra_block_rate:
            later = num + hrng.randint(1, 12)
            if (later - 1) * len(projects) + pi < n_issues and all(
                    (lk.get("inwardIssue") or {}).get("key") != f"{pkey}-{later}" for lk in links):
                link_id += 1
                _block(links, pending, link_id, blocked=(key, i, fields, status), blocker=f"{pkey}-{later}")
                open_blockers.add(f"{pkey}-{later}")
        if in_cycle and num != _CYCLE[-1]:  # DEMO-2 is blocked by DEMO-3, DEMO-3 by DEMO-4 ...
            link_id += 1
            _block(links, pending, link_id, blocked=(key, i, fields, status), blocker=f"{pkey}-{num + 1}")
        if in_cycle and num == _CYCLE[0]:  # ... and DEMO-4 by DEMO-2, which closes the cycle
            link_id += 1
            _blocks_later(links, pending, link_id, blocker=(key, i, fields, status), blocked=f"{pkey}-{_CYCLE[-1]}")
        fields["issuelinks"] = links
        issue: dict = {"id": str(100000 + i), "key": key, "fields": fields}
        for lk in links:  # fill in the ids of later issues now that they are known
            side = lk.get("inwardIssue") or lk.get("outwardIssue")
            if side is not None and not side["id"]:
                o_num = int(side["key"].rsplit("-", 1)[1])
                side["id"] = str(100000 + (o_num - 1) * len(projects) + pi)
        if changelog:
            hist = history(wrng, wf, i, status, created, updated, _user(assignee or reporter), _ts)
            issue["changelog"] = {"startAt": 0, "maxResults": len(hist), "total": len(hist), "histories": hist}
        yield issue


_CYCLE = (2, 3, 4)
_STALE = 40 * 24 * 3600  # seconds before the data's end after which work in progress is rare
_FRESH = 60 * 24 * 3600  # ... before which finished work is rarer than elsewhere
_BY_NAME = {s["name"]: s for s in STATUSES}


def _side(key: str, i: int, fields: dict, status: dict) -> dict:
    """The other-issue stub Jira embeds in a link."""
    return {"id": str(100000 + i), "key": key, "fields": {"summary": fields["summary"], "status": status}}


def _block(links: list, pending: dict, link_id: int, *, blocked: tuple, blocker: str) -> None:
    """Record that the current issue (``blocked``) is blocked by a later one, on both issues."""
    links.append({"id": str(link_id), "type": BLOCKS, "inwardIssue": {"id": "", "key": blocker, "fields": {}}})
    pending.setdefault(blocker, []).append({"id": str(link_id), "type": BLOCKS, "outwardIssue": _side(*blocked)})


def _blocks_later(links: list, pending: dict, link_id: int, *, blocker: tuple, blocked: str) -> None:
    """Record that the current issue (``blocker``) blocks a later one, on both issues."""
    links.append({"id": str(link_id), "type": BLOCKS, "outwardIssue": {"id": "", "key": blocked, "fields": {}}})
    pending.setdefault(blocked, []).append({"id": str(link_id), "type": BLOCKS, "inwardIssue": _side(*blocker)})


def seed_store(store, n: int, seed: int = 0, **kwargs: Any) -> int:  # store: labkit.jira.store.Store
    """Import ``n`` generated issues into a store and return how many were imported."""
    return store.import_issues(generate(n, seed=seed, **kwargs))
