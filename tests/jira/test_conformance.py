"""JQL conformance: each row is a query, the keys Jira returns on a fixed issue set, and the documentation it rests on.

The expected keys were worked out by hand from Atlassian's JQL reference (the sentence is in each
row), not by running labkit. The same table runs against the local store and against the sandbox
over HTTP; error rows expect Jira's own 400 ``errorMessages``. The last tests check that the
``blocked_by``/``blocks`` columns of the client (both decoding paths) and of the store equal
``rank.blocks_graph`` for every link wording in the set.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from labkit.jira.errors import JiraError, JqlSyntaxError
from labkit.jira.model import WORDING, BlockingRule
from labkit.jira.store import Store

from .conformance_issues import ISSUES, KEYS

C1, C2, C3, C4, C5, C6, N1, N2 = KEYS
ALL = set(KEYS)
CONF = {C1, C2, C3, C4, C5, C6}


@dataclass(frozen=True)
class Refused:
    """Jira answers 400 with exactly this message (or, for a syntax error, a message containing it)."""

    message: str
    syntax: bool = False


# The sentences the rows rest on (Atlassian: "JQL operators", "JQL fields", "JQL keywords",
# "JQL functions", "Search syntax for text fields", "Advanced searching - restricted words").
EQ = 'operators, Equals: "search for issues where the value of the specified field exactly matches the specified value"'
NE = ('operators, Not equals: "typing field != value is the same as typing NOT field = value" and "The != operator '
      'will not match a field that has no value (i.e. a field that is empty)"')
NE_EMPTY = 'operators, Not equals: "field != EMPTY is the same as field IS_NOT EMPTY"'
IN = 'operators, In: "search for issues where the value of the specified field is one of multiple specified values"'
NOT_IN = ('operators, Not in: "Using NOT IN is equivalent to using multiple NOT_EQUALS (!=) statements" and it '
          '"will not match a field that has no value"')
IS = 'operators, Is: "The IS operator can only be used with EMPTY or NULL" - the field has no value'
IS_NOT = 'operators, Is not: "search for issues where the specified field has a value"'
RANGE = ('operators, Greater than / Less than: "can only be used with fields that support ordering (e.g. date '
         'fields and version fields)"; an empty field has no order, so it never matches')
PRIORITY = 'operators, Greater than: "Find all issues where priority is higher than Normal: priority > normal"'
NOT_KW = 'keywords, NOT: "Used to negate individual clauses" - NOT field op value is field <opposite op> value'
CONTAINS = 'operators, Contains (~): "search for issues where the value of the specified field matches the specified value"'
NOT_CONTAINS = 'operators, Does not contain (!~): like !=, it "will not match a field that has no value"'
TEXT = 'fields, Text: "a master-field that allows you to search all text fields" (summary, description, environment, comments)'
PHRASE = 'text search, Phrase: an exact phrase needs escaped quotes: text ~ "\\"Jira Software\\""'
PROXIMITY = 'text search, Proximity: "\\"atlassian jira\\"~10" finds the words within 10 words of each other'
WORDS = 'text search: several words without quotes match the words anywhere in the field (AND is the default)'
WILDCARD = 'text search, Wildcards: "win*" finds words that start with win'
STOP = 'text search, Stop words: common words ("and", "the", ...) are ignored, keeping their place'
ID_FIRST = ('fields, Project / Component / Fix version / Status: "search by name or ID"; an unquoted number is an id '
            'first, and JqlStringSupportImpl quotes a numeric name ("10002" -> "\\"10002\\"") so it stays a name')
UNKNOWN = 'Jira answers a value that names nothing with 400: "The value \'X\' does not exist for the field \'f\'."'
UNKNOWN_ID = 'Jira answers an id that names nothing with 400: "A value with ID \'N\' does not exist for the field \'f\'."'
UNKNOWN_FIELD = 'Jira answers an unknown field with 400: "Field \'f\' does not exist or you do not have permission to view it."'
TEXT_EQ = 'operators, Equals: "cannot be used with text fields; see the CONTAINS operator instead"'
RESOLVED = 'fields, Resolution: "resolution = unresolved" finds issues that have no resolution'
LINKTYPE = 'fields, Issue link type: issues linked with a link type, named by its description on the issue\'s side'
LINKED = 'functions, linkedIssues(issueKey, linkType): the issues linked to issueKey with that link description'
WAS = 'operators, Was: "find issues that currently have or previously had the specified value"'
WAS_NOT = 'operators, Was not: "find issues that have never had the specified value"'
CHANGED = 'operators, Changed: "find issues that have a value that had changed for the specified field"'
RESERVED = ('restricted words: "These words need to be surrounded by quotation marks (single or double) if you '
            'wish to use them in queries"')
RESERVED_CHAR = 'restricted characters: to use a reserved character "Surround them with quote-marks"'
KEY = 'fields, Issue key: "Search for issues with a given issue key"; > and < compare within a project'

ROWS: list[tuple[str, set[str] | Refused, str]] = [
    # = and != on named objects, with NOT and EMPTY
    ("project = CONF", CONF, EQ),
    ("project = Conformance", CONF, EQ),
    ("project != CONF", {N1, N2}, NE),
    ("NOT project = CONF", {N1, N2}, NE),
    ("status = Open", {C1, C5, C6, N1}, EQ),
    ("status != Open", {C2, C3, C4, N2}, NE),
    ("NOT status = Open", {C2, C3, C4, N2}, NE),
    ("status IN (Open, \"In Progress\")", {C1, C2, C5, C6, N1}, IN),
    ("status NOT IN (Open, Closed)", {C2, C4}, NOT_IN),
    ("NOT status IN (Open, Closed)", {C2, C4}, NOT_IN),
    ("statusCategory = Done", {C3, N2}, EQ),
    ("statusCategory != Done", ALL - {C3, N2}, NE),
    ("statusCategory = 4", {C2}, ID_FIRST),
    ("issuetype = Task", {C5, C6}, EQ),
    ("issuetype != Bug", {C5, C6, N1, N2}, NE),
    ("type = 3", {C5, C6}, ID_FIRST),
    # ids first, quoted numbers are names, unknown values refused
    ("project = 10200", {N1, N2}, ID_FIRST),
    ('project = "2024"', {N1, N2}, ID_FIRST),
    ("project = 2024", {N1, N2}, ID_FIRST),
    ("status = 3", {C2}, ID_FIRST),
    ("status = 42", {C4}, ID_FIRST),
    ('status = "42"', {C4}, ID_FIRST),
    ("status = 10042", {C4}, ID_FIRST),
    ("component = 501", {C1, C5}, ID_FIRST),
    ('component = "501"', {C4}, ID_FIRST),
    ("component = 777", {C4}, ID_FIRST),
    ("fixVersion = 10350", {C1}, ID_FIRST),
    ('fixVersion = "10350"', {C2}, ID_FIRST),
    ('fixVersion = "1.0"', {C1}, ID_FIRST),
    ("fixVersion = 20001", {C2}, ID_FIRST),
    ("affectedVersion = 10350", {C2, C6}, ID_FIRST),
    ("project = NOPE", Refused("The value 'NOPE' does not exist for the field 'project'."), UNKNOWN),
    ("project = 99999", Refused("A value with ID '99999' does not exist for the field 'project'."), UNKNOWN_ID),
    ('status = "3"', Refused("The value '3' does not exist for the field 'status'."), UNKNOWN),
    ("component = nope", Refused("The value 'nope' does not exist for the field 'component'."), UNKNOWN),
    ("fixVersion = 99999", Refused("A value with ID '99999' does not exist for the field 'fixVersion'."), UNKNOWN_ID),
    ("nosuchfield = 1", Refused("Field 'nosuchfield' does not exist or you do not have permission to view it."),
     UNKNOWN_FIELD),
    ("summary = disk", Refused("The operator '=' is not supported by the 'summary' field."), TEXT_EQ),
    # components and versions: multi-valued
    ("component = api", {C1, C5}, EQ),
    ("component != api", {C2, C4}, NE),
    ("NOT component = api", {C2, C4}, NE),
    ("component IS EMPTY", {C3, C6, N1, N2}, IS),
    ("component = EMPTY", {C3, C6, N1, N2}, IS),
    ("component IN (db, EMPTY)", {C2, C3, C6, N1, N2}, IN),
    ("fixVersion IS EMPTY", ALL - {C1, C2}, IS),
    ('fixVersion != "1.0"', {C2}, NE),
    # labels: free text values
    ("labels = x", {C1, C2, C6}, EQ),
    ("labels != x", {C4}, NE),
    ("NOT labels = x", {C4}, NE),
    ("labels IS EMPTY", {C3, C5, N1, N2}, IS),
    ("labels IS NOT EMPTY", {C1, C2, C4, C6}, IS_NOT),
    ("labels IN (x, y)", {C1, C2, C4, C6}, IN),
    ("labels NOT IN (y)", {C1, C6}, NOT_IN),
    ('labels = "user"', set(), RESERVED),
    ("labels = user", Refused("'user' is a reserved JQL word", syntax=True), RESERVED),
    ("labels = c++", Refused("The character '+' is a reserved JQL character", syntax=True), RESERVED_CHAR),
    # users
    ("assignee = alice", {C1, C5, N2}, EQ),
    ("assignee != alice", {C2, C4, N1}, NE),
    ("NOT assignee = alice", {C2, C4, N1}, NE),
    ("assignee IS EMPTY", {C3, C6}, IS),
    ("assignee = EMPTY", {C3, C6}, IS),
    ("assignee != EMPTY", ALL - {C3, C6}, NE_EMPTY),
    ("assignee IS NOT EMPTY", ALL - {C3, C6}, IS_NOT),
    ("NOT assignee IS EMPTY", ALL - {C3, C6}, NOT_KW),
    ("assignee IN (alice, EMPTY)", {C1, C3, C5, C6, N2}, IN),
    ("assignee NOT IN (alice, bob)", {C4}, NOT_IN),
    ("assignee NOT IN (alice, EMPTY)", {C2, C4, N1}, NOT_IN),
    ("assignee != alice OR assignee IS EMPTY", {C2, C3, C4, C6, N1}, NE),
    # resolution and priority
    ("resolution = Fixed", {C3, N2}, EQ),
    ("resolution != Fixed", set(), NE),
    ("NOT resolution = Fixed", set(), NE),
    ("resolution = Unresolved", ALL - {C3, N2}, RESOLVED),
    ("resolution IS EMPTY", ALL - {C3, N2}, IS),
    ("priority = High", {C1, C4, N2}, EQ),
    ("priority > Medium", {C1, C4, N2}, PRIORITY),
    ("priority <= Medium", {C2, C3, C5, C6, N1}, PRIORITY),
    ("NOT priority > Medium", {C2, C3, C5, C6, N1}, NOT_KW),
    # dates: empty dates never compare
    ('due = "2021-04-01"', {C1}, EQ),
    ('due != "2021-04-01"', {C5}, NE),
    ('due > "2021-03-15"', {C1, C5}, RANGE),
    ('due <= "2021-03-25"', {C5}, RANGE),
    ('NOT due > "2021-03-25"', {C5}, NOT_KW),
    ("due IS EMPTY", ALL - {C1, C5}, IS),
    ('created >= "2021-03-05"', {C5, C6, N1, N2}, RANGE),
    ('created < "2021-03-03"', {C1, C2}, RANGE),
    ("resolved IS NOT EMPTY", {C3, N2}, IS_NOT),
    # text search: ADF flattened, empty fields never match !~
    ('text ~ "\\"disk space\\""', {C1, C2}, PHRASE),
    ('description ~ "\\"disk space\\""', {C1, C2}, PHRASE),
    ('description ~ "\\"disk space\\"~1"', {C1, C2, N2}, PROXIMITY),
    ('text ~ "disk space"', {C1, C2, N2}, WORDS),
    ('summary ~ "disk space"', {C1}, WORDS),
    ("summary ~ disk", {C1}, CONTAINS),
    ("description ~ disk", {C1, C2, N2}, CONTAINS),
    ("description !~ disk", {C6, N1}, NOT_CONTAINS),
    ("NOT description ~ disk", {C6, N1}, NOT_CONTAINS),
    ("summary !~ disk", ALL - {C1}, NOT_CONTAINS),
    ('text ~ "volum*"', {C2}, WILDCARD),
    ('description ~ "\\"disk and space\\""', {N2}, STOP),
    ("description IS EMPTY", {C3, C4, C5}, IS),
    ("description IS NOT EMPTY", {C1, C2, C6, N1, N2}, IS_NOT),
    ("environment IS EMPTY", ALL - {C2}, IS),
    ("comment ~ disk", {C3}, TEXT),
    ("comment IS EMPTY", ALL - {C3}, IS),
    # links
    ("issueLinkType = blocks", {C1, C3, C6}, LINKTYPE),
    ('issueLinkType = "is blocked by"', {C2, C4, C5}, LINKTYPE),
    ("issueLinkType != blocks", {C2, C4, C5, N1}, NE),
    ("issueLinkType IS EMPTY", {N2}, IS),
    ('issue IN linkedIssues(CONF-2, "is blocked by")', {C1}, LINKED),
    ('issue IN linkedIssues(CONF-5, "is blocked by")', {C6}, LINKED),
    # keys
    ("key = CONF-1", {C1}, KEY),
    ("key IN (CONF-1, NUM-2)", {C1, N2}, KEY),
    ("key != CONF-1", ALL - {C1}, NE),
    ("key > CONF-4 AND project = CONF", {C5, C6}, KEY),
    # history
    ("status WAS Open", {C1, C2, C3, C5, C6, N1}, WAS),
    ("status WAS NOT Open", {C4, N2}, WAS_NOT),
    ("NOT status WAS Open", {C4, N2}, WAS_NOT),
    ("status CHANGED", {C2, C3}, CHANGED),
    ("NOT status CHANGED", ALL - {C2, C3}, CHANGED),
    ("status CHANGED FROM Open TO Closed", {C3}, CHANGED),
    # boolean structure
    ("NOT (assignee = alice OR labels = x)", {C4}, NOT_KW),
    ("project = NUM AND NOT status = Closed", {N1}, NOT_KW),
]


def _ids(row):
    """A readable id for a table row."""
    return row[0]


@pytest.fixture(scope="module")
def store():
    """The fixed issue set in a local store."""
    s = Store(blocking=WORDING)
    s.import_issues(ISSUES)
    yield s
    s.close()


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox serving exactly the fixed issue set."""
    from labkit.jira.sandbox import serve

    with serve(mode="server", seed_issues=0) as sb:
        sb.app.db(lambda s: s.import_issues(ISSUES))
        yield sb


def test_the_table_is_big_enough_and_covers_every_operator():
    assert len(ROWS) >= 60
    text = " ".join(r[0] for r in ROWS)
    for op in ("= ", "!= ", " IN ", "NOT IN", "IS EMPTY", "IS NOT EMPTY", " ~ ", "!~", " > ", ">=", " < ", "<=",
               "WAS ", "WAS NOT", "CHANGED", "NOT ", "EMPTY"):
        assert op in text, op


@pytest.mark.unit
@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_store_answers_as_jira_documents(store, row):
    jql, expected, _sentence = row
    if isinstance(expected, Refused):
        with pytest.raises(JiraError) as info:
            store.search_keys(jql)
        if expected.syntax:
            assert isinstance(info.value, JqlSyntaxError) and expected.message in info.value.message
        else:
            assert info.value.message == expected.message
        return
    assert set(store.search_keys(jql)[0]) == expected


@pytest.mark.integration
@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_sandbox_answers_as_jira_documents_over_http(sandbox, row):
    jql, expected, _sentence = row
    r = requests.post(sandbox.url + "/rest/api/2/search", auth=sandbox.auth, timeout=30,
                      json={"jql": jql, "maxResults": 1000, "fields": ["key"]})
    if isinstance(expected, Refused):
        assert r.status_code == 400, r.text
        messages = r.json()["errorMessages"]
        if expected.syntax:
            assert len(messages) == 1 and expected.message in messages[0]
        else:
            assert messages == [expected.message]
        return
    assert r.status_code == 200, r.text
    assert {i["key"] for i in r.json()["issues"]} == expected


# ------------------------------------------------------------ blocked_by / blocks against rank.blocks_graph

def _expected_columns(rule: BlockingRule) -> dict[str, tuple[list[str], list[str]]]:
    """blocked_by and blocks of every issue, from rank's blocks graph of the same issues."""
    from labkit.rank import blocks_graph

    graph = blocks_graph(ISSUES, include_done=True, rule=rule)
    out = {k: ([], []) for k in KEYS}
    for blocker, blocked in graph.edges:
        out[blocked][0].append(blocker)
        out[blocker][1].append(blocked)
    return {k: (sorted(a), sorted(b)) for k, (a, b) in out.items()}


RULES = [pytest.param(WORDING, id="wording"), pytest.param(BlockingRule(["Depends"]), id="wording+Depends")]


@pytest.mark.unit
def test_every_link_wording_blocks_the_same_way_in_rank():
    cols = _expected_columns(WORDING)
    assert cols[C2][0] == [C1] and cols[C4][0] == [C3] and cols[C5][0] == [C6]   # standard, capitals, reversed
    assert cols[N1] == ([], []) and cols[C1][1] == [C2]
    assert _expected_columns(BlockingRule(["depends"]))[N1] == ([C6], [])      # a type the profile names


@pytest.mark.unit
@pytest.mark.parametrize("rule", RULES)
def test_store_blocked_by_and_blocks_equal_the_blocks_graph(rule):
    s = Store(blocking=rule)
    s.import_issues(ISSUES)
    df = s.search("ORDER BY key ASC").set_index("key")
    s.close()
    for key, (blocked_by, blocks) in _expected_columns(rule).items():
        assert (df.loc[key, "blocked_by"], df.loc[key, "blocks"]) == (blocked_by, blocks), key


@pytest.mark.integration
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("fields", [(), ("environment",)], ids=["fast-path", "normalise"])
def test_client_blocked_by_and_blocks_equal_the_blocks_graph(sandbox, rule, fields):
    from labkit.jira.client import JiraClient

    with JiraClient(sandbox.url, sandbox.auth, blocking=rule) as client:
        df = client.search("ORDER BY key ASC", list(fields)).set_index("key")
    for key, (blocked_by, blocks) in _expected_columns(rule).items():
        assert (df.loc[key, "blocked_by"], df.loc[key, "blocks"]) == (blocked_by, blocks), key
