"""Local stand-ins for real systems (AWS-compatible cloud, Jira, a git forge) on 127.0.0.1.

    import labkit.sandbox as sandbox
    sandbox.start()            # every service, free ports, recorded in the run directory
    sandbox.url("aws")         # 'http://127.0.0.1:41234'
    sandbox.status()           # rows for a table
    sandbox.stop()             # stops exactly what was started
"""

from labkit.sandbox.registry import ServiceSpec, available_services
from labkit.sandbox.runner import (
    ServiceState,
    StatusRow,
    free_port,
    port_open,
    run_dir,
    secret,
    service,
    start,
    status,
    stop,
    url,
)

__all__ = ["ServiceSpec", "ServiceState", "StatusRow", "available_services", "free_port", "port_open",
           "run_dir", "secret", "service", "start", "status", "stop", "url"]
