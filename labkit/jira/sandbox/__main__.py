"""Run the Jira sandbox in the foreground: ``python -m labkit.jira.sandbox --port 8080``."""

from __future__ import annotations

import sys

from labkit.jira.sandbox.server import main

sys.exit(main())
