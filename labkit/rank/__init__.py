"""Rank analysis: blockers above what they block, with the fewest possible moves, reversibly.

    from labkit.rank import blocks_graph, violations, plan_moves, apply, undo
    graph = blocks_graph(issues)                  # REST issue JSON with fields.issuelinks
    print(violations(order, graph).to_frame())    # every issue ranked above a (transitive) blocker
    plan = plan_moves(order, graph, jql=jql)      # provably fewest moves, rank calls of <= 50 issues
    result = apply(plan, client, "rank-undo.json")  # journal first; undo("rank-undo.json", client)

Importing this package is cheap: pandas and anywidget are imported only where used.
"""

from __future__ import annotations

from labkit.rank.apply import ApplyResult, UndoResult, apply, load_journal, undo
from labkit.rank.baseline import BaselinePlan, baseline_plan
from labkit.rank.client import ListRankClient, RankClient
from labkit.rank.errors import RankError
from labkit.rank.graph import BlockLink, BlocksGraph, blocks_graph
from labkit.rank.plan import Move, Plan, RankCall, apply_calls, plan_moves, rank_calls
from labkit.rank.violations import Cycle, Violation, ViolationReport, count_violations, violations

__all__ = [
    "ApplyResult", "BaselinePlan", "BlockLink", "BlocksGraph", "Cycle", "ListRankClient", "Move", "Plan",
    "RankCall", "RankClient", "RankError", "UndoResult", "Violation", "ViolationReport", "apply", "apply_calls",
    "baseline_plan", "blocks_graph", "count_violations", "load_journal", "plan_moves", "rank_calls", "undo",
    "violations",
]
