"""Jobs over any tracker that are not Jira itself: bulk import, RT exports, flow analytics and forecasts.

Modules: ``rt`` (reading RT-style ticket exports), ``bulk_import`` (mapped, batched, resumable
import into Jira); and flow analytics: ``history`` (REST issues and changelogs as tables),
``workflow`` (stages and clock points), ``flow`` (the stays in stages as arrays), ``metrics``
(cycle and lead time, throughput, WIP, cumulative flow, ageing, time in stage, efficiency, data
quality), ``forecast`` (Monte Carlo), ``charts``, ``report`` (the HTML report) and ``analytics``
(the ``df.jira`` accessor over all of them). Importing this package is cheap: pandas, numpy and
matplotlib are imported by the modules that need them.
"""
