"""Fault injection for the Jira sandbox: make chosen requests fail the way real servers do.

Rules are posted as JSON to ``/_sandbox/faults`` (authenticated) by tests::

    {"rules": [{"path": "/rest/api/2/search", "status": 429, "retry_after": "1", "times": 1},
               {"path": "/rest/api/2/search", "param": {"startAt": "5000"}, "status": 500},
               {"path": "/rest/api/2/search", "action": "drop", "skip": 7}]}

``action`` is ``status`` (default: answer ``status`` with a Jira-style error body),
``drop`` (close the connection before any response) or ``truncate`` (send half the body,
then close). ``skip`` lets that many matching requests through first; ``times`` is how often
the rule fires (default 1). Every fired fault is recorded and listed by ``GET /_sandbox/faults``.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultRule:
    """One planned failure: which requests it hits and what the client sees."""

    path: str
    method: str | None = None
    param: dict[str, str] = field(default_factory=dict)
    action: str = "status"  # status | drop | truncate
    status: int = 500
    retry_after: str | None = None
    skip: int = 0
    times: int = 1
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str, params: dict[str, Any]) -> bool:
        """Tell whether a request is one this rule targets (before counting skip/times)."""
        if path != self.path and not (self.path.endswith("*") and path.startswith(self.path[:-1])):
            return False
        if self.method and method.upper() != self.method.upper():
            return False
        return all(str(params.get(k)) == str(v) for k, v in self.param.items())


class FaultInjector:
    """Thread-safe list of fault rules, consulted once per request."""

    def __init__(self) -> None:
        """Start with no fault rules."""
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.fired: list[dict[str, Any]] = []

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the rules (validated: an unknown key or action is a ValueError)."""
        parsed = []
        for r in rules:
            rule = FaultRule(**{k: v for k, v in r.items() if k not in ("seen", "fired")})
            if rule.action not in ("status", "drop", "truncate"):
                raise ValueError(f"unknown fault action {rule.action!r}")
            parsed.append(rule)
        with self._lock:
            self.rules = parsed
            self.fired = []

    def snapshot(self) -> dict[str, Any]:
        """Return the rules with their counters and the faults fired so far."""
        with self._lock:
            return {"rules": [asdict(r) for r in self.rules], "fired": list(self.fired)}

    def pick(self, method: str, path: str, params: dict[str, Any]) -> FaultRule | None:
        """Return the rule that fires for this request, counting it, or None."""
        if not self.rules:
            return None
        with self._lock:
            for rule in self.rules:
                if rule.fired >= rule.times or not rule.matches(method, path, params):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.fired += 1
                self.fired.append({"method": method, "path": path, "params": dict(params),
                                   "action": rule.action, "status": rule.status})
                return rule
        return None


def fault_response(rule: FaultRule, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Produce the failure a rule describes on the raw WSGI connection."""
    sock = environ.get("werkzeug.socket")
    if rule.action == "drop":
        _shutdown(sock)
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return []
    if rule.action == "truncate":
        body = json.dumps({"startAt": 0, "issues": [{"id": "1"}] * 50}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])

        def half() -> Any:
            """Send half the body, then drop the connection."""
            yield body[: len(body) // 2]
            _shutdown(sock)

        return half()  # type: ignore[return-value]
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
              503: "Service Unavailable"}.get(rule.status, "Error")
    message = ("Rate limit exceeded." if rule.status == 429 else
               f"Injected sandbox fault ({rule.status}).")
    body = json.dumps({"errorMessages": [message], "errors": {}}).encode()
    headers = [("Content-Type", "application/json;charset=UTF-8"), ("Content-Length", str(len(body)))]
    if rule.retry_after is not None:
        headers.append(("Retry-After", str(rule.retry_after)))
    start_response(f"{rule.status} {reason}", headers)
    return [body]


def _shutdown(sock: socket.socket | None) -> None:
    """Shut a client connection down in both directions (the client sees it dropped)."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
