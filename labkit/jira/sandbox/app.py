"""The Jira-compatible WSGI application of the sandbox: REST v2/v3, Cloud search, agile, SOAP.

It answers the calls labkit and real clients (pycontribs ``jira``, zeep) make, over a
:class:`labkit.jira.store.Store`. ``mode="server"`` behaves like Jira Server/Data Center
(classic ``/search`` with ``total``); ``mode="cloud"`` like Jira Cloud (``/search/jql`` with
``nextPageToken``, ``/search`` answering 410).

Issues are rendered to wire JSON once per answer shape and cached until the next write, all on
one render thread (:mod:`labkit.jira.sandbox.renderqueue`): requests hand over the issues they
miss and wait. A search page also queues the next :data:`READ_AHEAD_PAGES` pages of the same
search there (read-ahead, :meth:`JiraApp.read_ahead`), rendered when no request waits: a client
paging through a result finds them cached, and the sandbox works while the client reads. It is
bounded (that many pages after the page asked for, a queue of :data:`READ_AHEAD_QUEUE`), started
only by a search (never when the sandbox starts), and dropped by any write; nothing is rendered twice.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, Raw, Struct, field
from msgspec.json import Encoder
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from labkit.bulk import no_gc
from labkit.jira.errors import JiraError, JqlSyntaxError
from labkit.jira.model import EMBEDDED_CHANGELOG_MAX, RANK_FIELD_NUMBER, category_key
from labkit.jira.sandbox.faults import FaultInjector, fault_response
from labkit.jira.sandbox.fields import (
    ISSUE_EXPAND,
    ISSUE_TYPES,
    PRIORITIES,
    adf_text,
    field_rule,
    field_selector,
    field_spec,
    rfc3339,
    to_v2,
    to_v3,
    v2_comment,
    v3_comment,
    wire_fields,
)
from labkit.jira.sandbox.renderqueue import RenderQueue
from labkit.jira.sandbox.soap import SOAP_PATH, SoapService
from labkit.jira.store.dates import normalise
from labkit.jira.store.decode import loads

T = TypeVar("T")

GONE_MESSAGE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED_MESSAGE = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
SERVER_MAX_RESULTS = 1000   # jira.search.views.default.max
CLOUD_MAX_RESULTS = 100     # any field beyond id/key
CLOUD_MAX_IDS = 5000        # id/key only
RANK_MAX_ISSUES = 50
BULK_MAX = 50
BULKFETCH_MAX = 100
CHANGELOG_PAGE_MAX = 100          # GET issue/{key}/changelog: "The default is 100 and the maximum is 100"
CHANGELOG_BULK_ISSUES = 1000      # POST changelog/bulkfetch: "up to 1000 issues"
CHANGELOG_BULK_FIELDS = 10        # ... "filter them by up to 10 field IDs"
CHANGELOG_BULK_MAX = 10000        # ... maxResults: default 1000, maximum 10000
RENDER_CACHE_MAX = 200_000
READ_AHEAD_PAGES = 2        # pages of a search rendered ahead of the one asked for (JiraApp.read_ahead)
READ_AHEAD_CHUNK = 1000     # Cloud: issues of a search page of ids rendered ahead at once (JiraApp.read_ahead_after)
READ_AHEAD_QUEUE = 4        # read-ahead pages waiting at most
READ_AHEAD_SEEN_MAX = 10_000
READ_AHEAD_ORDER_MAX = 100_000  # issues of Cloud id pages whose order is remembered
SEARCH_BUDGET = 10.0        # seconds a search may run before it is stopped with a 400
READERS = 8                 # searches that run at once beside the writer (file stores only)
READER_CACHE_KIB = 32_000   # page cache of each reader connection
INT32_MAX = 2**31 - 1       # startAt and maxResults are int32 in Jira's REST specs
TOKEN_INVALID = "The provided next page token is invalid or expired."
_ENCODER = Encoder()  # compact UTF-8 JSON, the bytes json.dumps(separators=(",", ":"), ensure_ascii=False) gives


class WireIssue(Struct, gc=False):
    """An issue as the REST API answers it, in Jira's member order; a member left UNSET is not sent."""

    expand: str
    id: str
    self_: str = field(name="self")
    key: str = ""
    fields: Any = UNSET
    changelog: Any = UNSET


_WIRE_FIELDS = msgspec.structs.fields(WireIssue)


class ApiError(Exception):
    """A Jira-style error answer: status plus ``errorMessages``/``errors``."""

    def __init__(self, status: int, messages: list[str] | str, errors: dict[str, str] | None = None) -> None:
        """Record the HTTP status and Jira's errorMessages/errors for the answer."""
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else messages
        self.errors = errors or {}
        super().__init__("; ".join(self.messages))


class StoreWorker:
    """Run Store calls: writes on one writer thread, searches and reads on a pool of reader connections.

    SQLite connections belong to their thread. With a store in a file (WAL), each reader thread has
    its own connection, so an expensive search runs beside the writer and beside other searches and
    never holds up the rest; an in-memory store has a single connection, so every call goes to the
    writer thread there. Each search is bounded by ``budget`` seconds (None: no limit).
    """

    def __init__(self, factory: Callable[[], Any], *, readers: int = READERS,
                 budget: float | None = SEARCH_BUDGET) -> None:
        """Open the store on the writer thread; reader connections are opened on first use."""
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="jira-store")
        self.store = self._pool.submit(factory).result()
        self.store.budget = budget
        self.budget = budget
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        if readers > 0 and getattr(self.store, "path", ":memory:") not in (":memory:", ""):
            self._readers = ThreadPoolExecutor(readers, thread_name_prefix="jira-read")

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(store, *args, **kwargs)`` on the writer thread and return its result."""
        return self._pool.submit(fn, self.store, *args, **kwargs).result()

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(store, ...)`` on a reader connection (the writer's for an in-memory store): reads only."""
        if self._readers is None:
            return self(fn, *args, **kwargs)
        return self._readers.submit(self._on_reader, fn, args, kwargs).result()

    def _on_reader(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        """Run ``fn`` with this reader thread's own Store on the same file (opened once per thread)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = type(self.store)(self.store.path, blocking=getattr(self.store, "_blocking", None))
            store.db.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            store.budget = self.budget
            store.now, store.current_user = self.store.now, self.store.current_user
            with self._opened_lock:
                self._opened.append(store)
            self._local.store = store
        return fn(store, *args, **kwargs)

    def close(self) -> None:
        """Close the stores and stop their threads."""
        try:
            if self._readers is not None:
                self._readers.shutdown(wait=True)
            for store in self._opened:
                store.close()
            self._pool.submit(lambda s: s.close(), self.store).result()
        finally:
            self._pool.shutdown(wait=True)


def expands_changelog(expand: str | None) -> bool:
    """Tell whether an ``expand`` parameter (comma-separated) asks for the changelog."""
    return bool(expand) and "changelog" in expand.split(",")


def jql_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types the store raises for bad input (a 400 for the client)."""
    return (JiraError,)


def error_messages(exc: JiraError) -> list[str]:
    """Jira's ``errorMessages`` for a store error: the message alone (a syntax error in Jira's words)."""
    if isinstance(exc, JqlSyntaxError):
        return [f"Error in the JQL Query: {exc.reason} (line 1, character {exc.position + 1})"]
    return [exc.message]


def unbounded(jql: str) -> bool:
    """Tell whether a JQL has no restriction (empty, or only an ORDER BY); malformed JQL is the store's 400."""
    from labkit.jira.jql.edit import is_unbounded

    return is_unbounded(jql or "")


class JiraApp:
    """A WSGI app that serves a Store the way Jira Server/DC (``mode="server"``) or Cloud does."""

    def __init__(self, store_factory: Callable[[], Any], *, secret: str, mode: str = "server",
                 user: str = "admin", wsdl_dir: str | None = None, search_budget: float | None = SEARCH_BUDGET,
                 readers: int = READERS, workflow: Any = None) -> None:
        """Serve the store made by ``store_factory`` as a Server/DC or Cloud Jira with this admin secret.

        A search running longer than ``search_budget`` seconds is stopped with a 400; up to
        ``readers`` searches run at once beside the writer when the store is a file. ``workflow`` (a
        :class:`labkit.jira.sandbox.histories.DemoWorkflow`) gives the boards' columns; without one
        they follow the status categories.
        """
        if mode not in ("server", "cloud"):
            raise ValueError(f"mode must be server or cloud, not {mode!r}")
        self.mode = mode
        self.user = user
        self.workflow = workflow
        self.secret = secret
        self.db = StoreWorker(store_factory, readers=readers, budget=search_budget)
        self._token_key = secrets.token_bytes(32)  # page tokens are signed with a key of this run only
        self.faults = FaultInjector()
        self.requests = 0
        self._count_lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}   # key -> issue JSON (v2 shape, no "self")
        self._ids: dict[str, str] = {}                # id -> key
        self._rendered: dict[tuple[Any, ...], dict[str, bytes]] = {}  # answer shape -> key -> issue JSON
        self._rendered_count = 0
        self._queue = RenderQueue(self._render_missing)  # the one render thread, started by the first render
        self._ahead_seen: set[tuple[Any, ...]] = set()  # pages read ahead since the last write
        self._ahead_queued = 0
        self._order: dict[str, tuple[list[str], int]] = {}  # Cloud: key -> (its search page of ids, its place)
        self._generation = 0  # bumped by every write; loads started before a write are not cached
        self._cache_lock = threading.Lock()
        self.started = time.time()
        self.soap = SoapService(_SoapBackend(self), wsdl_dir)
        self._jql_errors = jql_errors()
        r = [
            Rule("/status", endpoint="status", methods=["GET"]),
            Rule("/_sandbox/faults", endpoint="faults", methods=["GET", "POST", "DELETE"]),
            Rule("/_sandbox/stats", endpoint="stats", methods=["GET"]),
            Rule("/rest/agile/1.0/issue/rank", endpoint="rank", methods=["PUT"]),
            Rule("/rest/agile/1.0/board", endpoint="boards", methods=["GET"]),
            Rule("/rest/agile/1.0/board/<int:board_id>/backlog", endpoint="backlog", methods=["GET"]),
            Rule("/rest/agile/1.0/board/<int:board_id>/configuration", endpoint="board_configuration",
                 methods=["GET"]),
        ]
        api = {
            "serverInfo": ("server_info", ["GET"]),
            "myself": ("myself", ["GET"]),
            "field": ("field", ["GET"]),
            "issueLinkType": ("link_types", ["GET"]),
            "project": ("projects", ["GET"]),
            "project/<key>": ("project", ["GET"]),
            "project/<key>/statuses": ("project_statuses", ["GET"]),
            "issuetype": ("issue_types", ["GET"]),
            "priority": ("priorities", ["GET"]),
            "status": ("statuses", ["GET"]),
            "issue": ("create_issue", ["POST"]),
            "issue/bulk": ("create_bulk", ["POST"]),
            "issue/bulkfetch": ("bulkfetch", ["POST"]),
            "issue/<key>": ("issue", ["GET", "PUT"]),
            "issue/<key>/comment": ("comments", ["GET", "POST"]),
            "issue/<key>/transitions": ("transitions", ["GET", "POST"]),
            "issue/<key>/changelog": ("changelog", ["GET"]),
            "changelog/bulkfetch": ("changelog_bulkfetch", ["POST"]),
            "issueLink": ("create_link", ["POST"]),
            "search": ("search", ["GET", "POST"]),
            "search/jql": ("search_jql", ["GET", "POST"]),
            "search/approximate-count": ("approximate_count", ["POST"]),
        }
        for path, (endpoint, methods) in api.items():
            r.append(Rule(f"/rest/api/<any('2', '3', latest):version>/{path}", endpoint=endpoint, methods=methods))
        self.url_map = Map(r, strict_slashes=False)

    # ----------------------------------------------------------------- plumbing
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer one WSGI request (authenticated, with fault injection applied)."""
        request = Request(environ)
        with self._count_lock:
            self.requests += 1
        if not request.path.startswith("/_sandbox"):
            params = dict(request.args)
            if request.method in ("POST", "PUT") and request.mimetype == "application/json":
                body = request.get_json(silent=True)
                if isinstance(body, dict):
                    params.update({k: v for k, v in body.items() if isinstance(v, (str, int, float))})
            rule = self.faults.pick(request.method, request.path, params)
            if rule is not None:
                return fault_response(rule, environ, start_response)
        if request.path == SOAP_PATH:  # the SOAP service is its own WSGI app, with its own login
            return self.soap(environ, start_response)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request to its handler and turn errors into Jira-style answers."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            if endpoint not in ("status", "server_info") and not self.authorised(request):
                return self.error(401, "You are not authenticated. Authentication required to perform this operation.",
                                  headers={"WWW-Authenticate": 'Basic realm="protected-area"'})
            return getattr(self, f"on_{endpoint}")(request, **values)
        except ApiError as exc:
            return self.error(exc.status, exc.messages, exc.errors)
        except NotFound:
            return self.error(404, "null for uri: " + request.url)
        except MethodNotAllowed:
            return self.error(405, f"Method {request.method} not allowed")
        except HTTPException as exc:
            return self.error(exc.code or 500, exc.description or "error")
        except self._jql_errors as exc:
            return self.error(400, error_messages(exc))

    def authorised(self, request: Request) -> bool:
        """Accept basic auth ``admin:<secret>`` or ``Bearer <secret>`` (a personal access token)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), self.secret.encode())
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return user == self.user and hmac.compare_digest(password.encode(), self.secret.encode())
        return False

    @staticmethod
    def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        """Return a JSON response the way Jira sends it."""
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return Response(body, status=status, headers=headers, content_type="application/json;charset=UTF-8")

    def error(self, status: int, messages: list[str] | str, errors: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Response:
        """Return a Jira error body ``{"errorMessages": [...], "errors": {...}}``."""
        msgs = [messages] if isinstance(messages, str) else list(messages)
        return self.json({"errorMessages": msgs, "errors": errors or {}}, status, headers)

    @staticmethod
    def body(request: Request) -> dict[str, Any]:
        """Return the JSON object a POST/PUT carries, or a 400."""
        data = request.get_json(silent=True, force=True)
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return data

    def base(self, request: Request) -> str:
        """Return this server's base URL as the client reached it."""
        return request.host_url.rstrip("/")

    def close(self) -> None:
        """Stop the render thread (after the work it is on; read-ahead dropped), then close the store."""
        self._queue.close()
        self.db.close()

    # ----------------------------------------------------------------- issues and cache
    def invalidate(self) -> None:
        """Forget cached issue JSON (and rendered fragments) after any write."""
        with self._cache_lock:
            self._generation += 1
            self._cache.clear()
            self._rendered.clear()
            self._rendered_count = 0
            self._ahead_seen.clear()
            self._order.clear()

    def rendered(self, wanted: list[str], version: str, base: str, spec: list[str] | None, default: str,
                 expand: str | None = None, changelog_max: int | None = EMBEDDED_CHANGELOG_MAX) -> list[bytes | None]:
        """Return the wire JSON (bytes) of the issues of these keys or ids, None for an unknown one.

        Rendered issues are cached per field selection (pages are mostly re-reads). The others are
        rendered on the render thread (:class:`labkit.jira.sandbox.renderqueue.RenderQueue`), before
        any read-ahead and together with other requests' issues of the same answer shape, in one
        batch (``Store.stored_issues``): only what the answer holds is read and decoded. A field
        passes on as its stored JSON when that is canonical and no REST version rewrites it
        (:data:`labkit.jira.sandbox.fields.REWRITTEN`), so a first search costs about what a repeated
        one does. Search results embed at most ``changelog_max`` changelog entries per issue, as Jira does.
        """
        args = (version, base, spec, default, expand, changelog_max)
        tag = self._shape(args)
        out = self._cached(tag, wanted)
        if None not in out:
            return out
        missing = list(dict.fromkeys(w for w, hit in zip(wanted, out, strict=True) if hit is None))
        made = self._queue.render(tag, args, missing)
        return [hit if hit is not None else made.get(w) for w, hit in zip(wanted, out, strict=True)]

    def _render_missing(self, tag: tuple[Any, ...], args: tuple[Any, ...], wanted: list[str]) -> dict[str, bytes | None]:
        """On the render thread: the wire JSON of issues (keys or ids, each once), rendering those not cached yet.

        Issues rendered since the request looked (by a batch or a read-ahead before it) are taken
        from the cache: what is cached is current (a write empties it, and a render begun before a
        write is not cached).
        """
        made = dict(zip(wanted, self._cached(tag, wanted), strict=True))
        rest = [w for w, hit in made.items() if hit is None]
        if rest:
            made.update(self._render(rest, tag, args))
        return made

    def _cached(self, tag: tuple[Any, ...], wanted: list[str]) -> list[bytes | None]:
        """The cached wire JSON of issues (keys or ids) for one answer shape, None where there is none."""
        with self._cache_lock:
            cached = self._rendered.get(tag) or {}
            return list(map(cached.get, map(self._ids.get, wanted, wanted)))

    def _render(self, missing: list[str], tag: tuple[Any, ...], args: tuple[Any, ...]) -> dict[str, bytes | None]:
        """Read, render and cache issues (keys or ids, each once) for one answer shape; None for an unknown one.

        The cyclic garbage collector is paused meanwhile (:func:`labkit.bulk.no_gc`): a page makes
        tens of thousands of small objects that form no cycle.
        """
        version, base, spec, default, expand, changelog_max = args
        with self._cache_lock:
            generation = self._generation
        rule = field_rule(tuple(spec) if spec else None, default)
        changelog = expands_changelog(expand)
        with no_gc():
            got = self.db.read(lambda s: s.stored_issues(missing, documents=changelog or not rule.nothing,
                                                         links=rule.keeps("issuelinks"), changelog=changelog))
            selected = [{}] * len(got) if rule.nothing else wire_fields(got, rule, version)
            render = self.issue_renderer(version, base, spec, default, expand, changelog_max)
            encode = _ENCODER.encode
            encoded = [encode(render(i.id, i.key, fields, i.changelog)) for i, fields in zip(got, selected, strict=True)]
            fresh = dict(zip([i.key for i in got], encoded, strict=True))
            if len(got) == len(missing):  # every one found: the store answers them in the order asked
                made: dict[str, bytes | None] = dict(zip(missing, encoded, strict=True))
            else:
                by = {i.key: i.key for i in got} | {i.id: i.key for i in got}
                made = {w: fresh[key] if (key := by.get(w.upper(), by.get(w))) else None for w in missing}
            found = [(i.id, i.key) for i in got]
            del got, selected  # freed here, while the collector is paused, not traced by its next run
        with self._cache_lock:
            if generation == self._generation:  # a write happened meanwhile: do not cache stale JSON
                if self._rendered_count > RENDER_CACHE_MAX:
                    self._rendered.clear()
                    self._rendered_count = 0
                shape = self._rendered.setdefault(tag, {})
                before = len(shape)
                shape.update(fresh)
                self._rendered_count += len(shape) - before
                self._ids.update(found)
        return made

    def read_ahead(self, jql: str, start: int, limit: int, total: int, args: tuple[Any, ...]) -> None:
        """Render the next pages of a search in the background, so that they are cached when the client asks.

        Triggered only by a search page (never at start: a first search is a cold one), for at most
        :data:`READ_AHEAD_PAGES` pages after it, on one background thread with a short queue; a write
        drops it (the generation counter: nothing rendered before a write is cached after it). A
        client that stops paging costs those pages' rendering once. A failed read-ahead is dropped:
        the page is rendered when asked for, with its error then.
        """
        if limit > 0:
            for at in range(start, min(total, start + READ_AHEAD_PAGES * limit), limit):
                self._ahead_job(("page", jql, at, limit, *self._shape(args)), self._read_page_ahead, jql, at, limit,
                                args)

    def remember_order(self, keys: list[str]) -> None:
        """Remember the order of a Cloud search page of ids, for :meth:`read_ahead_after`."""
        with self._cache_lock:
            if len(self._order) > READ_AHEAD_ORDER_MAX:
                self._order.clear()
            self._order.update((k, (keys, n)) for n, k in enumerate(keys))

    def read_ahead_after(self, wanted: list[str], args: tuple[Any, ...]) -> None:
        """Cloud: render ahead the issues that follow a bulkfetch's in the search page of ids they came from.

        Atlassian's advice for Cloud is to page through the ids, then fetch the details in batches:
        the issues after this batch are rendered by the render thread when no request waits, in
        chunks of :data:`READ_AHEAD_CHUNK` of that page of ids (a chunk is read and rendered at once,
        where a hundred batches of a hundred would each pay a read), at most
        :data:`READ_AHEAD_PAGES` chunks ahead, each once (:meth:`_ahead_job`).
        """
        with self._cache_lock:
            found = self._order.get(self._ids.get(wanted[-1], wanted[-1])) if wanted else None
        if found is None:
            return
        keys, n = found
        chunk = max(len(wanted), READ_AHEAD_CHUNK)
        first = (n + 1) // chunk
        for c in range(first, min(first + READ_AHEAD_PAGES, -(-len(keys) // chunk))):
            part = keys[c * chunk:(c + 1) * chunk]
            self._ahead_job(("chunk", part[0], chunk, *self._shape(args)), self._render_ahead, part, args)

    @staticmethod
    def _shape(args: tuple[Any, ...]) -> tuple[Any, ...]:
        """An answer shape (the arguments of :meth:`rendered` after the issues) as a hashable tuple."""
        version, base, spec, *rest = args
        return (version, base, tuple(spec) if spec else None, *rest)

    def _ahead_job(self, job: tuple[Any, ...], fn: Callable[..., None], *args: Any) -> None:
        """Queue one read-ahead (once per job since the last write; dropped when the queue is full)."""
        with self._cache_lock:
            if job in self._ahead_seen or self._ahead_queued >= READ_AHEAD_QUEUE:
                return
            if len(self._ahead_seen) > READ_AHEAD_SEEN_MAX:
                self._ahead_seen.clear()
            self._ahead_seen.add(job)
            self._ahead_queued += 1
            generation = self._generation
        if not self._queue.ahead(functools.partial(self._ahead_run, generation, fn, *args)):  # the app is closing
            with self._cache_lock:
                self._ahead_queued -= 1

    def _ahead_run(self, generation: int, fn: Callable[..., None], *args: Any) -> None:
        """Run one read-ahead unless a write came first; its failure is dropped (it answers no one)."""
        try:
            if generation == self._generation:
                fn(generation, *args)
        except Exception:  # noqa: BLE001, S110 - the page is rendered when asked for, with its error then
            pass
        finally:
            with self._cache_lock:
                self._ahead_queued -= 1

    def _read_page_ahead(self, generation: int, jql: str, start: int, limit: int, args: tuple[Any, ...]) -> None:
        """Render one page of a search ahead (:meth:`read_ahead`)."""
        keys, _ = self.db.read(lambda s: s.search_keys(jql, start=start, limit=limit))
        self._render_ahead(generation, keys, args)

    def _render_ahead(self, generation: int, keys: list[str], args: tuple[Any, ...]) -> None:
        """Render issues ahead (on the render thread) unless a write came first."""
        if generation == self._generation:
            self._render_missing(self._shape(args), args, keys)

    @staticmethod
    def json_with_issues(head: dict[str, Any], issues: list[bytes | None], tail: dict[str, Any] | None = None,
                         status: int = 200) -> Response:
        """Return ``{**head, "issues": [...], **tail}`` built from pre-rendered issue JSON."""
        lead = json.dumps(head, separators=(",", ":"))[:-1].encode() + b"," if head else b"{"
        parts = [lead, b'"issues":[', b",".join(i for i in issues if i is not None), b"]"]
        if tail:
            parts.append(b"," + json.dumps(tail, separators=(",", ":"))[1:-1].encode())
        parts.append(b"}")
        return Response(b"".join(parts), status=status, content_type="application/json;charset=UTF-8")

    def issues(self, keys: list[str]) -> list[dict[str, Any]]:
        """Return the stored issue JSON for keys or ids (cached; unknown ones are left out)."""
        with self._cache_lock:
            generation = self._generation
            found = {k: self._cache.get(self._ids.get(k, k)) for k in keys}
        missing = [k for k, v in found.items() if v is None]
        if missing:
            got = self.db.read(lambda s: s.get_issues(missing))  # one read of the page's documents and links
            by = {i["key"]: i for i in got} | {str(i["id"]): i for i in got}
            loaded = {k: by.get(k.upper(), by.get(k)) for k in missing}
            with self._cache_lock:
                keep = generation == self._generation
                for k, issue in loaded.items():
                    if issue is not None:
                        if keep:
                            self._cache[issue["key"]] = issue
                            self._ids[str(issue["id"])] = issue["key"]
                        found[k] = issue
        return [found[k] for k in keys if found.get(k) is not None]

    def issue_json(self, issue: dict[str, Any], version: str, base: str, spec: list[str] | None,
                   default: str, expand: str | None = None, changelog_max: int | None = None,
                   fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """Render one issue for the wire: ``self`` link, field selection, v3 rich text, ``expand=changelog``.

        An embedded changelog keeps its newest ``changelog_max`` entries (all with None) and says how
        many there are in ``total``. ``fields``: the selected fields, decoded, when the caller has them.
        """
        if fields is None and spec != ["id"] and spec != ["key"]:
            fields = field_selector(tuple(spec) if spec else None, default)(issue.get("fields", {}))
        render = self.issue_renderer(version, base, spec, default, expand, changelog_max)
        wire = render(issue["id"], issue["key"], fields, issue.get("changelog"))
        return {f.encode_name: v for f in _WIRE_FIELDS if (v := getattr(wire, f.name)) is not UNSET}

    def issue_renderer(self, version: str, base: str, spec: list[str] | None, default: str,
                       expand: str | None = None, changelog_max: int | None = None,
                       ) -> Callable[[Any, str, Any, Any], WireIssue]:
        """Return the function that renders an issue for the wire (:meth:`issue_json`), worked out once per answer.

        It takes the issue's id, key, selected fields (decoded, or stored JSON the version does not
        rewrite, as a dict or a struct of :func:`labkit.jira.sandbox.fields.wire_fields`) and stored
        changelog, and returns a :class:`WireIssue`.
        """
        v = "3" if version == "3" else "2"
        link = f"{base}/rest/api/{v}/issue/"
        convert = to_v3 if version == "3" else to_v2
        with_fields = spec != ["id"] and spec != ["key"]
        empty = spec == ["key"]
        changelog = expands_changelog(expand)
        histories = self.histories

        def render(issue_id: Any, key: str, fields: Any, stored_changelog: Any) -> WireIssue:
            """One issue's wire struct."""
            i = str(issue_id)
            if with_fields:  # a struct of fields has nothing to rewrite (wire_fields)
                out = WireIssue(ISSUE_EXPAND, i, link + i, key, convert(fields) if type(fields) is dict else fields)
            else:
                out = WireIssue(ISSUE_EXPAND, i, link + i, key, {} if empty else UNSET)
            if changelog:
                entries = histories({"changelog": stored_changelog}, version)
                total = len(entries)
                if changelog_max is not None and total > changelog_max:
                    entries = entries[total - changelog_max:]
                out.changelog = {"startAt": 0, "maxResults": len(entries), "total": total, "histories": entries}
            return out
        return render

    @staticmethod
    def histories(issue: dict[str, Any], version: str) -> list[dict[str, Any]]:
        """Return an issue's changelog entries, oldest first (v3: RFC 3339 dates, as its spec declares)."""
        changelog = issue.get("changelog")
        histories = list(((loads(changelog) if isinstance(changelog, Raw) else changelog) or {}).get("histories") or [])
        if version == "3":
            histories = [{**h, "created": rfc3339(h.get("created"))} for h in histories]
        return histories

    def one(self, key: str) -> dict[str, Any]:
        """Return one issue's stored JSON or a 404 in Jira's words."""
        got = self.issues([key])
        if not got:
            raise ApiError(404, "Issue Does Not Exist")
        return got[0]

    # ----------------------------------------------------------------- metadata
    def on_status(self, request: Request) -> Response:
        """GET /status: the health check (no auth), like Jira DC's."""
        return self.json({"state": "RUNNING"})

    def on_stats(self, request: Request) -> Response:
        """GET /_sandbox/stats: request count and cache size, for tests."""
        return self.json({"requests": self.requests, "mode": self.mode, "cached": len(self._cache)})

    def on_faults(self, request: Request) -> Response:
        """GET/POST/DELETE /_sandbox/faults: read, replace or clear the fault-injection rules."""
        if request.method == "POST":
            try:
                self.faults.set_rules(self.body(request).get("rules", []))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, f"bad fault rules: {exc}") from None
        elif request.method == "DELETE":
            self.faults.set_rules([])
        return self.json(self.faults.snapshot())

    def on_server_info(self, request: Request, version: str) -> Response:
        # v3 (the published spec) wants RFC 3339 offsets; v2 keeps Jira's own "+0000".
        """GET serverInfo: version and deploymentType (Server or Cloud), anonymous like Jira."""
        offset = "+00:00" if version == "3" else "+0000"
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime()) + offset
        if self.mode == "cloud":
            info = {"baseUrl": self.base(request), "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud", "buildNumber": 100282, "buildDate": "2025-01-01T00:00:00.000" + offset,
                    "serverTime": now, "scmInfo": "labkit-sandbox", "serverTitle": "labkit sandbox (Cloud mode)"}
        else:
            info = {"baseUrl": self.base(request), "version": "9.12.2", "versionNumbers": [9, 12, 2],
                    "deploymentType": "Server", "buildNumber": 9120002, "buildDate": "2024-01-01T00:00:00.000" + offset,
                    "serverTime": now, "scmInfo": "labkit-sandbox", "serverTitle": "labkit sandbox"}
        return self.json(info)

    def on_myself(self, request: Request, version: str) -> Response:
        """GET myself: the authenticated user (Cloud shape has accountId, Server has name/key)."""
        me = {"self": f"{self.base(request)}/rest/api/{version}/user?username={self.user}", "key": self.user,
              "name": self.user, "emailAddress": f"{self.user}@example.com", "displayName": "Administrator",
              "active": True, "timeZone": "UTC", "locale": "en_US"}
        if self.mode == "cloud":
            me = {"self": me["self"], "accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian",
                  "emailAddress": me["emailAddress"], "displayName": me["displayName"], "active": True,
                  "timeZone": "UTC", "locale": "en_US"}
        return self.json(me)

    def on_field(self, request: Request, version: str) -> Response:
        """GET field: every field, the LexoRank field included."""
        return self.json(self.db(lambda s: s.fields()))

    def on_link_types(self, request: Request, version: str) -> Response:
        """GET issueLinkType: the link types (Blocks first)."""
        types = self.db(lambda s: s.link_types())
        base = self.base(request)
        out = [{**t, "id": str(t.get("id")), "self": f"{base}/rest/api/{version}/issueLinkType/{t.get('id')}"}
               for t in types]
        return self.json({"issueLinkTypes": out})

    def project_list(self, request: Request, version: str) -> list[dict[str, Any]]:
        """Return the store's projects with ``self`` links and issue types."""
        base = self.base(request)
        return [{**p, "id": str(p.get("id")), "self": f"{base}/rest/api/{version}/project/{p.get('id')}",
                 "issueTypes": p.get("issueTypes") or self.issue_type_list(request, version)}
                for p in self.db(lambda s: s.projects())]

    def on_projects(self, request: Request, version: str) -> Response:
        """GET project: every project."""
        return self.json(self.project_list(request, version))

    def find_project(self, request: Request, version: str, key: str) -> dict[str, Any]:
        """Return one project by key or id, or a 404."""
        for p in self.project_list(request, version):
            if key in (p.get("key"), str(p.get("id"))):
                return p
        raise ApiError(404, f"No project could be found with key '{key}'.")

    def on_project(self, request: Request, version: str, key: str) -> Response:
        """GET project/{key}: one project by key or id."""
        return self.json(self.find_project(request, version, key))

    def on_project_statuses(self, request: Request, version: str, key: str) -> Response:
        """GET project/{key}/statuses: the statuses per issue type."""
        self.find_project(request, version, key)
        statuses = self.db(lambda s: s.statuses())
        return self.json([{**t, "statuses": statuses} for t in self.issue_type_list(request, version)])

    def issue_type_list(self, request: Request, version: str) -> list[dict[str, Any]]:
        """Return the sandbox's issue types with ``self`` links."""
        base = self.base(request)
        return [{**t, "self": f"{base}/rest/api/{version}/issuetype/{t['id']}"} for t in ISSUE_TYPES]

    def on_issue_types(self, request: Request, version: str) -> Response:
        """GET issuetype: the issue types."""
        return self.json(self.issue_type_list(request, version))

    def on_priorities(self, request: Request, version: str) -> Response:
        """GET priority: the priorities."""
        base = self.base(request)
        return self.json([{**p, "self": f"{base}/rest/api/{version}/priority/{p['id']}"} for p in PRIORITIES])

    def on_statuses(self, request: Request, version: str) -> Response:
        """GET status: the statuses with their categories."""
        return self.json(self.db(lambda s: s.statuses()))

    # ----------------------------------------------------------------- issues
    def on_issue(self, request: Request, version: str, key: str) -> Response:
        """GET issue/{key} (fields, expand) or PUT it (fields, update.set)."""
        if request.method == "PUT":
            data = self.body(request)
            fields = self.incoming_fields(data.get("fields") or {})
            for name, ops in (data.get("update") or {}).items():
                for op in ops or []:
                    if "set" in op:
                        fields[name] = op["set"]
            self.one(key)
            self.db(lambda s: s.update_issue(key, fields))
            self.invalidate()
            return Response(status=204)
        issue = self.one(key)
        spec = field_spec(request.args.getlist("fields")) if "fields" in request.args else None
        cap = EMBEDDED_CHANGELOG_MAX if self.mode == "cloud" else None  # Server/DC: all (the client's fallback)
        return self.json(self.issue_json(issue, version, self.base(request), spec, "*all", request.args.get("expand"),
                                         cap))

    def incoming_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Normalise fields a client sends: ADF to text, issue type and project ids to names and keys."""
        out = {k: adf_text(v) for k, v in fields.items()}
        it = out.get("issuetype")
        if isinstance(it, dict) and "id" in it and "name" not in it:
            match = [t for t in ISSUE_TYPES if t["id"] == str(it["id"])]
            if not match:
                raise ApiError(400, [], {"issuetype": "Specify a valid issue type"})
            out["issuetype"] = {"id": match[0]["id"], "name": match[0]["name"]}
        proj = out.get("project")
        if isinstance(proj, dict) and "key" not in proj and "id" in proj:
            for p in self.db(lambda s: s.projects()):
                if str(p.get("id")) == str(proj["id"]):
                    out["project"] = {"id": str(p["id"]), "key": p["key"]}
                    break
            else:
                raise ApiError(400, [], {"project": "project is required"})
        return out

    def prepare_create(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        """Check one ``{"fields", "update"}`` create request; return its fields and links, or a 400."""
        fields = self.incoming_fields(data.get("fields") or {})
        errors = {}
        if not fields.get("project"):
            errors["project"] = "project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if not fields.get("issuetype"):
            errors["issuetype"] = "issue type is required"
        if errors:
            raise ApiError(400, [], errors)
        return fields, self.create_links_spec((data.get("update") or {}).get("issuelinks") or [])

    def create_many(self, request: Request, version: str, datas: list[dict[str, Any]]) -> list[dict[str, Any] | ApiError]:
        """Create issues (with their ``update.issuelinks``) in one store transaction; errors stay in place."""
        prepared: list[tuple[dict[str, Any], list[tuple[str, str, str]]] | ApiError] = []
        for data in datas:
            try:
                prepared.append(self.prepare_create(data))
            except ApiError as exc:
                prepared.append(exc)
        made = self.db(lambda s: self._create_with_links(s, prepared))
        self.invalidate()
        base = self.base(request)
        return [m if isinstance(m, ApiError) else
                {"id": str(m["id"]), "key": m["key"], "self": f"{base}/rest/api/{version}/issue/{m['id']}"}
                for m in made]

    def create_one(self, request: Request, version: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create one issue from ``{"fields": ...}`` and return ``{id, key, self}``."""
        made = self.create_many(request, version, [data])[0]
        if isinstance(made, ApiError):
            raise made
        return made

    @staticmethod
    def create_links_spec(ops: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        """Read ``update.issuelinks`` of a create: [(type, "inward"|"outward", other key)], from the new issue's view.

        ``{"add": {"type": {"name": "Blocks"}, "outwardIssue": {"key": "X"}}}`` makes the new issue block X;
        with ``inwardIssue`` X blocks the new issue, as Jira's create-with-links does.
        """
        out = []
        for op in ops:
            add = op.get("add") if isinstance(op, dict) else None
            if not isinstance(add, dict):
                raise ApiError(400, [], {"issuelinks": "Only the add operation is supported for issue links."})
            t = (add.get("type") or {}).get("name") or (add.get("type") or {}).get("id")
            for side in ("outwardIssue", "inwardIssue"):
                other = add.get(side)
                if other:
                    out.append((str(t), side, str(other.get("key") or other.get("id"))))
                    break
            else:
                raise ApiError(400, [], {"issuelinks": "A link needs an inwardIssue or an outwardIssue."})
        return out

    @staticmethod
    def _create_with_links(store: Any, prepared: list[Any]) -> list[dict[str, Any] | ApiError]:
        """Create the prepared issues and their links in the store's thread, so each issue and its links go together."""
        out: list[Any] = list(prepared)
        todo = []
        for i, item in enumerate(prepared):
            if isinstance(item, ApiError):
                continue
            missing = [other for _t, _side, other in item[1] if store.get_issue(other) is None]
            if missing:
                out[i] = ApiError(400, [], {"issuelinks": f"Issue {missing[0]} does not exist."})
            else:
                todo.append(i)
        made = store.create_issues([prepared[i][0] for i in todo]) if todo else []
        for i, m in zip(todo, made, strict=True):
            if isinstance(m, Exception):
                out[i] = ApiError(400, str(m))
                continue
            for t, side, other in prepared[i][1]:
                if side == "outwardIssue":
                    store.add_link(t, m["key"], other)
                else:
                    store.add_link(t, other, m["key"])
            out[i] = m
        return out

    def on_create_issue(self, request: Request, version: str) -> Response:
        """POST issue: create one issue, 201 with id, key and self."""
        return self.json(self.create_one(request, version, self.body(request)), 201)

    def on_create_bulk(self, request: Request, version: str) -> Response:
        """POST issue/bulk: create up to 50 issues; failures listed by element number."""
        updates = self.body(request).get("issueUpdates") or []
        if len(updates) > BULK_MAX:
            raise ApiError(400, f"The number of issues to create is larger than the maximum of {BULK_MAX}.")
        issues, errors = [], []
        for i, made in enumerate(self.create_many(request, version, updates)):
            if isinstance(made, ApiError):
                errors.append({"status": made.status, "elementErrors": {"errorMessages": made.messages,
                                                                        "errors": made.errors},
                               "failedElementNumber": i})
            else:
                issues.append(made)
        return self.json({"issues": issues, "errors": errors}, 201)

    def on_comments(self, request: Request, version: str, key: str) -> Response:
        """GET or POST issue/{key}/comment."""
        issue = self.one(key)
        base = self.base(request)
        if request.method == "POST":
            posted = self.body(request).get("body")
            body = adf_text(posted)
            if not body:
                raise ApiError(400, [], {"comment": "Comment body can not be empty!"})
            kept = posted if isinstance(posted, dict) and version == "3" else None  # v3 reads give the ADF back
            made = self.db(lambda s: s.add_comment(issue["key"], body, author=self.user, adf=kept))
            self.invalidate()
            made = v3_comment(made) if version == "3" else v2_comment(made)
            return self.json({**made, "self": f"{base}/rest/api/{version}/issue/{issue['id']}/comment/{made.get('id')}"},
                             201)
        comment = (issue.get("fields") or {}).get("comment") or {"comments": []}
        comment = (to_v3 if version == "3" else to_v2)({"comment": comment})["comment"]
        comments = comment.get("comments", [])
        return self.json({"startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments})

    def on_transitions(self, request: Request, version: str, key: str) -> Response:
        """GET or POST issue/{key}/transitions: a simplified workflow where every status is reachable."""
        issue = self.one(key)
        current = ((issue.get("fields") or {}).get("status") or {}).get("name")
        targets = [st for st in self.db(lambda s: s.statuses()) if st.get("name") != current]
        transitions = [{"id": str(st.get("id")), "name": st.get("name"), "to": st, "hasScreen": False,
                        "isGlobal": True, "isInitial": False, "isConditional": False} for st in targets]
        if request.method == "GET":
            return self.json({"expand": "transitions", "transitions": transitions})
        wanted = str((self.body(request).get("transition") or {}).get("id", ""))
        chosen = next((t for t in transitions if t["id"] == wanted), None)
        if chosen is None:
            raise ApiError(400, f"Transition id '{wanted}' is not valid for this issue.")
        done = ((chosen["to"].get("statusCategory") or {}).get("key")) == "done"
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
        fields: dict[str, Any] = {"status": chosen["to"],
                                  "resolution": {"id": "10000", "name": "Done"} if done else None,
                                  "resolutiondate": now if done else None}
        history = self.transition_history(issue, chosen["to"], fields["resolution"], now)
        self.db(lambda s: s.update_issue(issue["key"], fields, history))
        self.invalidate()
        return Response(status=204)

    def transition_history(self, issue: dict[str, Any], to: dict[str, Any], resolution: dict[str, Any] | None,
                           now: str) -> dict[str, Any]:
        """The changelog entry Jira records for a transition: the status change, and the resolution's if it changes."""
        f = issue.get("fields") or {}
        old = f.get("status") or {}
        items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": old.get("id"),
                  "fromString": old.get("name"), "to": to.get("id"), "toString": to.get("name")}]
        old_res = f.get("resolution") or None
        if (old_res or {}).get("name") != (resolution or {}).get("name"):
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                          "from": (old_res or {}).get("id"), "fromString": (old_res or {}).get("name"),
                          "to": (resolution or {}).get("id"), "toString": (resolution or {}).get("name")})
        known = (issue.get("changelog") or {}).get("histories") or []
        hid = max([int(h["id"]) for h in known if str(h.get("id", "")).isdigit()] + [int(issue["id"]) * 1000]) + 1
        return {"id": str(hid), "author": {"name": self.user, "key": self.user, "displayName": "Administrator"},
                "created": now, "items": items}

    def on_changelog(self, request: Request, version: str, key: str) -> Response:
        """GET issue/{key}/changelog: the issue's changelog, oldest first, paged by startAt/maxResults (at most 100)."""
        issue = self.one(key)
        start = self.int_param(request.args.get("startAt"), "startAt", 0)
        if start < 0:
            raise ApiError(400, f"The value '{start}' is invalid for the 'startAt' parameter.")
        limit = self.int_param(request.args.get("maxResults"), "maxResults", CHANGELOG_PAGE_MAX)
        limit = CHANGELOG_PAGE_MAX if limit <= 0 or limit > CHANGELOG_PAGE_MAX else limit
        histories = self.histories(issue, version)
        values = histories[start:start + limit]
        here = f"{self.base(request)}/rest/api/{version}/issue/{issue['key']}/changelog"
        last = start + len(values) >= len(histories)
        page: dict[str, Any] = {"self": f"{here}?startAt={start}&maxResults={limit}", "maxResults": limit,
                                "startAt": start, "total": len(histories), "isLast": last, "values": values}
        if not last:
            page["nextPage"] = f"{here}?startAt={start + len(values)}&maxResults={limit}"
        return self.json(page)

    def on_changelog_bulkfetch(self, request: Request, version: str) -> Response:
        """POST changelog/bulkfetch (Cloud): the changelogs of up to 1000 issues, oldest first, token-paged.

        Entries are sorted by date, then issue id; ``fieldIds`` keeps only the items of those fields
        (an entry left with none is dropped); a page holds ``maxResults`` entries (default 1000).
        """
        if self.mode != "cloud":
            raise NotFound()
        data = self.body(request)
        wanted = data.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not wanted or len(wanted) > CHANGELOG_BULK_ISSUES:
            raise ApiError(400, f"issueIdsOrKeys must hold 1 to {CHANGELOG_BULK_ISSUES} issue ids or keys.")
        fields = data.get("fieldIds") or []
        if not isinstance(fields, list) or len(fields) > CHANGELOG_BULK_FIELDS:
            raise ApiError(400, f"fieldIds may hold at most {CHANGELOG_BULK_FIELDS} field ids.")
        limit = self.int_param(data.get("maxResults"), "maxResults", 1000)
        if not 1 <= limit <= CHANGELOG_BULK_MAX:
            raise ApiError(400, f"maxResults must be between 1 and {CHANGELOG_BULK_MAX}.")
        keys = [str(w) for w in wanted]
        bound = json.dumps([sorted(keys), sorted(map(str, fields)), limit])  # a token is valid for this request only
        start = self.untoken(data["nextPageToken"], bound) if data.get("nextPageToken") else 0
        wanted_fields = {str(f).lower() for f in fields}
        entries = []
        for issue in self.issues(keys):
            for h in self.histories(issue, version):
                items = h.get("items") or []
                if wanted_fields:
                    items = [it for it in items if str(it.get("fieldId") or it.get("field") or "").lower() in wanted_fields
                             or str(it.get("field") or "").lower() in wanted_fields]
                    if not items:
                        continue
                entries.append((normalise(h.get("created")) or "", int(issue["id"]), {**h, "items": items}))
        entries.sort(key=lambda e: (e[0], e[1]))
        chunk = entries[start:start + limit]
        grouped: dict[int, list[dict[str, Any]]] = {}
        for _when, iid, h in chunk:
            grouped.setdefault(iid, []).append(h)
        out: dict[str, Any] = {"issueChangeLogs": [{"issueId": str(iid), "changeHistories": hs}
                                                   for iid, hs in grouped.items()]}
        if start + len(chunk) < len(entries):
            out["nextPageToken"] = self.token(bound, start + len(chunk))
        return self.json(out)

    def on_create_link(self, request: Request, version: str) -> Response:
        """POST issueLink: inwardIssue blocks outwardIssue for Blocks, as Jira does."""
        data = self.body(request)
        name = (data.get("type") or {}).get("name")
        inward = (data.get("inwardIssue") or {}).get("key") or (data.get("inwardIssue") or {}).get("id")
        outward = (data.get("outwardIssue") or {}).get("key") or (data.get("outwardIssue") or {}).get("id")
        if not (name and inward and outward):
            raise ApiError(400, "type, inwardIssue and outwardIssue are required")
        types = {t["name"] for t in self.db(lambda s: s.link_types())}
        if name not in types:
            raise ApiError(404, f"No issue link type with name '{name}' found.")
        a, b = self.one(inward), self.one(outward)
        self.db(lambda s: s.add_link(name, a["key"], b["key"]))
        comment = data.get("comment")
        if isinstance(comment, dict) and comment.get("body"):
            self.db(lambda s: s.add_comment(b["key"], adf_text(comment["body"]), author=self.user))
        self.invalidate()
        return Response(status=201)

    # ----------------------------------------------------------------- search
    def search_params(self, request: Request) -> dict[str, Any]:
        """Read search parameters from a GET query or a POST body."""
        if request.method == "POST":
            data = self.body(request)
            fields = data.get("fields")
            spec = field_spec(fields if isinstance(fields, list) else [fields]) if fields is not None else None
            expand = data.get("expand")
            return {"jql": data.get("jql") or "", "startAt": data.get("startAt", 0),
                    "maxResults": data.get("maxResults"), "fields": spec,
                    "expand": ",".join(expand) if isinstance(expand, list) else expand,
                    "nextPageToken": data.get("nextPageToken")}
        a = request.args
        return {"jql": a.get("jql", ""), "startAt": a.get("startAt", 0), "maxResults": a.get("maxResults"),
                "fields": field_spec(a.getlist("fields")) if "fields" in a else None,
                "expand": a.get("expand"), "nextPageToken": a.get("nextPageToken")}

    @staticmethod
    def int_param(value: Any, name: str, default: int) -> int:
        """Parse an int32 parameter (as Jira's specs type startAt and maxResults) or answer 400 naming it."""
        if value in (None, ""):
            return default
        shown = str(value)[:40] + ("..." if len(str(value)) > 40 else "")
        try:
            if isinstance(value, bool | float) or (isinstance(value, str) and len(value) > 20):
                raise ValueError(value)  # a JSON true, 1.5 or a number of a thousand digits is no int32
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ApiError(400, f"The value '{shown}' is invalid for the '{name}' parameter.") from None
        if not -INT32_MAX - 1 <= number <= INT32_MAX:
            raise ApiError(400, f"The value '{shown}' is invalid for the '{name}' parameter.")
        return number

    def on_search(self, request: Request, version: str) -> Response:
        """GET/POST search (Server/DC): startAt/maxResults/total paging; 410 in Cloud mode."""
        if self.mode == "cloud":
            return self.error(410, GONE_MESSAGE)
        p = self.search_params(request)
        start = max(0, self.int_param(p["startAt"], "startAt", 0))
        limit = self.int_param(p["maxResults"], "maxResults", 50)
        limit = SERVER_MAX_RESULTS if limit < 0 or limit > SERVER_MAX_RESULTS else limit
        keys, total = self.db.read(lambda s: s.search_keys(p["jql"], start=start, limit=limit))
        args = (version, self.base(request), p["fields"], "*navigable", p["expand"], EMBEDDED_CHANGELOG_MAX)
        if start + len(keys) < total:
            self.read_ahead(p["jql"], start + len(keys), limit, total, args)
        issues = self.rendered(keys, *args)
        return self.json_with_issues({"expand": "schema,names", "startAt": start, "maxResults": limit,
                                      "total": total}, issues)

    def _sign(self, jql: str, start: int) -> str:
        """Return the MAC of a page token: this run's secret key over the offset and the JQL."""
        return hmac.new(self._token_key, f"{start}\n{jql}".encode(), "sha256").hexdigest()[:32]

    def token(self, jql: str, start: int) -> str:
        """Return an opaque page token bound to a JQL and an offset (valid while this sandbox runs)."""
        raw = json.dumps([start, self._sign(jql, start)])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def untoken(self, token: Any, jql: str) -> int:
        """Return the offset of a page token, or 400 if it is not one this run made for this JQL."""
        try:
            if not isinstance(token, str) or len(token) > 512:
                raise ValueError(token)
            start, digest = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, TypeError, binascii.Error):
            raise ApiError(400, TOKEN_INVALID) from None
        if (not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= INT32_MAX
                or not isinstance(digest, str) or not hmac.compare_digest(digest, self._sign(jql, start))):
            raise ApiError(400, TOKEN_INVALID)
        return start

    def on_search_jql(self, request: Request, version: str) -> Response:
        """GET/POST search/jql (Cloud): nextPageToken paging, no total, 400 on unbounded JQL."""
        if self.mode != "cloud":
            raise NotFound()
        p = self.search_params(request)
        jql = p["jql"]
        if unbounded(jql):
            raise ApiError(400, UNBOUNDED_MESSAGE)
        spec = p["fields"] or ["id"]
        light = all(f in ("id", "key") for f in spec)
        cap = CLOUD_MAX_IDS if light else CLOUD_MAX_RESULTS
        limit = self.int_param(p["maxResults"], "maxResults", 50)
        limit = cap if limit <= 0 or limit > cap else limit
        start = self.untoken(p["nextPageToken"], jql) if p["nextPageToken"] else 0
        keys, total = self.db.read(lambda s: s.search_keys(jql, start=start, limit=limit))
        issues = self.rendered(keys, version, self.base(request), spec, "id", p["expand"])
        if light:
            self.remember_order(keys)
        tail: dict[str, Any] = {}
        if start + len(keys) < total:
            tail["nextPageToken"] = self.token(jql, start + len(keys))
            tail["isLast"] = False
        else:
            tail["isLast"] = True
        return self.json_with_issues({}, issues, tail)

    def on_approximate_count(self, request: Request, version: str) -> Response:
        """POST search/approximate-count (Cloud): the count of a bounded JQL."""
        if self.mode != "cloud":
            raise NotFound()
        jql = self.body(request).get("jql") or ""
        if unbounded(jql):
            raise ApiError(400, UNBOUNDED_MESSAGE)
        return self.json({"count": self.db.read(lambda s: s.count(jql))})

    def on_bulkfetch(self, request: Request, version: str) -> Response:
        """POST issue/bulkfetch (Cloud): up to 100 issues by id or key."""
        if self.mode != "cloud":
            raise NotFound()
        data = self.body(request)
        wanted = [str(x) for x in data.get("issueIdsOrKeys") or []]
        if not wanted or len(wanted) > BULKFETCH_MAX:
            raise ApiError(400, f"issueIdsOrKeys must hold 1 to {BULKFETCH_MAX} issue ids or keys.")
        fields = data.get("fields")
        spec = field_spec(fields) if isinstance(fields, list) else None
        expand = data.get("expand")
        expand = ",".join(expand) if isinstance(expand, list) else expand
        wanted = list(dict.fromkeys(wanted))
        args = (version, self.base(request), spec, "*navigable", expand, EMBEDDED_CHANGELOG_MAX)
        self.read_ahead_after(wanted, args)
        found = self.rendered(wanted, *args)
        issues = [i for i in found if i is not None]
        errors = [w for w, i in zip(wanted, found, strict=True) if i is None]
        tail = {"issueErrors": [{"errorMessages": [f"Issue {w} does not exist or you do not have permission."],
                                 "errors": {}} for w in errors]}
        return self.json_with_issues({}, issues, tail)

    # ----------------------------------------------------------------- agile
    def on_rank(self, request: Request) -> Response:
        """PUT /rest/agile/1.0/issue/rank: move up to 50 issues before/after one; 204, or 207 with entries."""
        data = self.body(request)
        wanted = [str(x) for x in data.get("issues") or []]
        before, after = data.get("rankBeforeIssue"), data.get("rankAfterIssue")
        if not wanted:
            raise ApiError(400, "issues: at least one issue is required")
        if len(wanted) > RANK_MAX_ISSUES:
            raise ApiError(400, f"issues: at most {RANK_MAX_ISSUES} issues can be ranked in one request")
        if bool(before) == bool(after):
            raise ApiError(400, "Exactly one of rankBeforeIssue and rankAfterIssue must be given")
        cf = data.get("rankCustomFieldId")
        if cf not in (None, "", RANK_FIELD_NUMBER, str(RANK_FIELD_NUMBER)):
            raise ApiError(400, f"rankCustomFieldId {cf} is not a rank field")
        anchor_list = self.issues([str(before or after)])
        if not anchor_list:
            raise ApiError(400, f"Issue {before or after} does not exist or you do not have permission to see it.")
        anchor = anchor_list[0]["key"]
        entries, ok = [], []
        for w in wanted:
            got = self.issues([w])
            if not got:
                entries.append({"issueId": None, "issueKey": w, "status": 404,
                                "errors": [f"Issue {w} does not exist or you do not have permission to see it."]})
            elif got[0]["key"] == anchor:
                entries.append({"issueId": int(got[0]["id"]), "issueKey": got[0]["key"], "status": 400,
                                "errors": ["Cannot rank an issue relative to itself."]})
            else:
                ok.append(got[0])
                entries.append({"issueId": int(got[0]["id"]), "issueKey": got[0]["key"], "status": 200})
        if ok:
            keys = [i["key"] for i in ok]
            self.db(lambda s: s.rank(keys, before=anchor if before else None, after=anchor if after else None))
            self.invalidate()
        if len(ok) == len(wanted):
            return Response(status=204)
        return self.json({"entries": entries}, 207)

    def boards(self) -> list[dict[str, Any]]:
        """Return one scrum board per project (id 1, 2, ... in project order)."""
        projects = self.db(lambda s: s.projects())
        return [{"id": i, "name": f"{p['key']} board", "type": "scrum", "location": {"projectKey": p["key"]}}
                for i, p in enumerate(projects, start=1)]

    def on_boards(self, request: Request) -> Response:
        """GET /rest/agile/1.0/board: one board per project."""
        boards = self.boards()
        base = self.base(request)
        values = [{**b, "self": f"{base}/rest/agile/1.0/board/{b['id']}"} for b in boards]
        return self.json({"maxResults": 50, "startAt": 0, "total": len(values), "isLast": True, "values": values})

    def board_columns(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The boards' columns with their statuses: the demo workflow's, else To Do / each in progress / Done."""
        statuses = self.db(lambda s: s.statuses())
        by_name = {st.get("name"): st for st in statuses}
        if self.workflow is not None:
            cols = [(name, [by_name[n] for n in names if n in by_name]) for name, names in self.workflow.board_columns()]
            placed = {st["name"] for _n, sts in cols for st in sts}
            rest = [st for st in statuses if st.get("name") not in placed]
        else:
            cols, rest = [], statuses
        for cat, title in (("new", "To Do"), ("indeterminate", None), ("done", "Done")):
            group = sorted((st for st in rest if category_key(st) == cat), key=lambda st: (len(str(st.get("id"))),
                                                                                         str(st.get("id"))))
            if title is None:
                at = next((i for i, (_n, sts) in enumerate(cols) if sts and category_key(sts[0]) == "done"), len(cols))
                cols[at:at] = [(st["name"], [st]) for st in group]
            elif group:
                same = next((i for i, (n, _s) in enumerate(cols) if n == title), None)
                if same is None:
                    cols.insert(0 if cat == "new" else len(cols), (title, group))
                else:
                    cols[same][1].extend(group)
        return cols

    def on_board_configuration(self, request: Request, board_id: int) -> Response:
        """GET /rest/agile/1.0/board/{id}/configuration: the board's columns and the statuses mapped to each."""
        board = next((b for b in self.boards() if b["id"] == board_id), None)
        if board is None:
            raise ApiError(404, f"Board {board_id} does not exist or you do not have permission to see it.")
        base = self.base(request)
        columns = [{"name": name, "statuses": [{"id": str(st["id"]), "self": f"{base}/rest/api/2/status/{st['id']}"}
                                               for st in sts]}
                   for name, sts in self.board_columns()]
        return self.json({"id": board_id, "name": board["name"], "type": board["type"],
                          "self": f"{base}/rest/agile/1.0/board/{board_id}/configuration",
                          "location": {"type": "project", "key": board["location"]["projectKey"],
                                       "projectKeyOrId": board["location"]["projectKey"]},
                          "filter": {"id": str(10000 + board_id), "self": f"{base}/rest/api/2/filter/{10000 + board_id}"},
                          "columnConfig": {"columns": columns, "constraintType": "issueCount"},
                          "ranking": {"rankCustomFieldId": RANK_FIELD_NUMBER}})

    def on_backlog(self, request: Request, board_id: int) -> Response:
        """GET /rest/agile/1.0/board/{id}/backlog: the board's unfinished issues in rank order."""
        board = next((b for b in self.boards() if b["id"] == board_id), None)
        if board is None:
            raise ApiError(404, f"Board {board_id} does not exist or you do not have permission to see it.")
        project = board["location"]["projectKey"]
        from labkit.jira.jql import Clause, Query, SortKey, Value
        from labkit.jira.jql.edit import and_where

        extra = request.args.get("jql", "").strip()
        backlog = Query(Clause("project", "=", Value(project, quoted=True)), (SortKey("Rank", "ASC"),))
        jql = and_where(backlog, "statusCategory != Done", *([extra] if extra else []))
        start = max(0, self.int_param(request.args.get("startAt"), "startAt", 0))
        limit = self.int_param(request.args.get("maxResults"), "maxResults", 50)
        limit = SERVER_MAX_RESULTS if limit <= 0 or limit > SERVER_MAX_RESULTS else limit
        keys, total = self.db.read(lambda s: s.search_keys(jql, start=start, limit=limit))
        spec = field_spec(request.args.getlist("fields")) if "fields" in request.args else None
        base = self.base(request)
        issues = [self.issue_json(i, "2", base, spec, "*navigable") for i in self.issues(keys)]
        for i in issues:
            i["self"] = i["self"].replace("/rest/api/2/", "/rest/agile/1.0/")
        return self.json({"expand": "names,schema", "startAt": start, "maxResults": limit, "total": total,
                          "issues": issues})


class _SoapBackend:
    """The narrow view of the app the SOAP service runs on: login, issues, JQL keys, statuses."""

    def __init__(self, app: JiraApp) -> None:
        """Serve SOAP calls from ``app``'s store and users."""
        self.app = app

    def login(self, user: str | None, password: str | None) -> bool:
        """Accept the app's admin user with its secret."""
        return user == self.app.user and hmac.compare_digest((password or "").encode(), self.app.secret.encode())

    def issues(self, keys: list[str]) -> list[dict[str, Any]]:
        """Return the issues of these keys or ids."""
        return self.app.issues(keys)

    def search_keys(self, jql: str, limit: int | None) -> list[str]:
        """Return the keys a JQL finds (the store's JiraError for a bad JQL)."""
        return self.app.db.read(lambda s: s.search_keys(jql, start=0, limit=limit))[0]

    def statuses(self) -> list[dict[str, Any]]:
        """Return the statuses the store knows."""
        return self.app.db(lambda s: s.statuses())
