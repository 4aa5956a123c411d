"""The welcome form: environment checks and sandbox services as tables, with Refresh and Start buttons."""

from __future__ import annotations

import ipywidgets as widgets

from labkit import doctor, tables
from labkit.forms.layout import fit_text


class StatusForm(widgets.VBox):
    """Show the environment and the sandbox as tables; Refresh re-reads both, Start starts the sandbox."""

    def __init__(self, start_sandbox: bool = False) -> None:
        """Build the status form, optionally starting the sandbox first."""
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("labkit-status-refresh")
        self.start_button = widgets.Button(description="Start sandbox", icon="play")
        self.start_button.add_class("labkit-status-start")
        self.message = widgets.HTML()
        self.message.add_class("labkit-status-message")
        self.environment = widgets.Output()
        self.services = widgets.Output()
        self.services.add_class("labkit-status-services")
        self.refreshes = 0
        super().__init__([
            widgets.HBox([self.refresh_button, self.start_button]),
            self.message,
            widgets.HTML("<b>Sandbox services</b>"), self.services,
            widgets.HTML("<b>Environment</b>"), self.environment,
        ])
        self.add_class("labkit-status")
        fit_text(self)
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.start_button.on_click(lambda _b: self.start())
        if start_sandbox:
            self.start()
        else:
            self.refresh()

    def start(self) -> None:
        """Start every sandbox service (idempotent) and refresh the tables."""
        import labkit.sandbox as sb
        from labkit.errors import LabkitError

        try:
            sb.start()
        except LabkitError as exc:
            self.message.value = f"<span style='color:#b00'>{exc}</span>"
        self.refresh()

    def refresh(self) -> None:
        """Re-read the environment checks and the sandbox status into the two tables."""
        self.refreshes += 1
        env = tables.to_frame(doctor.environment_checks())
        svc = tables.to_frame(doctor.sandbox_rows(), ["service", "state", "url", "pid", "description"])
        for out, frame in ((self.environment, env), (self.services, svc)):
            out.clear_output(wait=True)
            with out:
                tables.show(frame)
        bad = int((env["status"] != "ok").sum())
        running = int((svc["state"] == "running").sum())
        self.message.value = (f"refresh #{self.refreshes}: {running} of {len(svc)} sandbox services running; "
                              f"{bad} environment problem{'s' if bad != 1 else ''}")
