"""Jobs over any tracker that are not Jira itself: bulk import, RT exports, flow analytics.

Modules: ``rt`` (reading RT-style ticket exports), ``bulk_import`` (mapped, batched, resumable
import into Jira) and ``analytics`` (the ``df.jira`` accessor: trends, cycle time, WIP, blocked chains).
Importing this package is cheap: pandas is imported by ``analytics`` only.
"""
