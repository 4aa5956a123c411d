"""Clients of a Jira server: REST (Server/Data Center and Cloud) and the legacy SOAP API, into DataFrames.

    from labkit.jira.client import JiraClient
    JiraClient.from_profile().search('project = DEMO')

Modules: ``rest`` (:class:`JiraClient`) and ``soap`` (:class:`SoapClient`, zeep imported on first use).
"""

from __future__ import annotations

from labkit.jira.client.rest import JiraClient, ServerInfo

__all__ = ["JiraClient", "ServerInfo"]
