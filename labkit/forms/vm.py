"""The VM lab form: describe a cloud, see its plan, conflicts, host checks and commands, then launch (dry run first)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from labkit.errors import LabkitError
from labkit.tables import to_frame
from labkit.vm.checks import host_checks
from labkit.vm.hostfiles import setup_commands
from labkit.vm.lab import CloudRequest, Lab
from labkit.vm.launch import connections, default_uri, destroy, launch
from labkit.vm.packet_path import packet_path
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.render_qemu import qemu_command
from labkit.vm.spec import CIAB, FRONTEND_NC, NETWORK_MODES


def _show(out: widgets.Output, rows, title: str = ""):
    """Show rows as a DataFrame (under an optional title) in an Output; return the frame."""
    from IPython.display import HTML, display

    frame = to_frame(rows)
    with out:
        if title:
            display(HTML(f"<b>{html.escape(title)}</b>"))
        display(frame)
    return frame


class VmLabForm:
    """Widgets over :class:`labkit.vm.Lab`: Plan fills the tables, Launch runs (a dry run unless unticked)."""

    def __init__(self, *, uri: str | None = None, cloud: str = "ciab1", topology: str = CIAB, nodes: int = 0,
                 iso: str = "silvereye.iso", memory_mb: int = 4096, bridge: str = "br0", root: str = "/") -> None:
        """Build the widgets with these starting values."""
        self.root = root
        self.lab: Lab | None = None
        self.plan_result = None
        self.steps: list = []
        self.connection_rows: list = []
        self.conflicts: list = []
        self.error = ""
        self.tables: dict = {}  # name -> the DataFrame last shown under that name
        style = {"description_width": "140px"}
        self.cloud = widgets.Text(value=cloud, description="Cloud name", style=style)
        self.topology = widgets.Dropdown(options=[("cloud-in-a-box", CIAB), ("frontend + node controllers",
                                                                            FRONTEND_NC)],
                                         value=topology, description="Topology", style=style)
        self.nodes = widgets.BoundedIntText(value=nodes, min=0, max=64, description="Node controllers", style=style)
        self.iso = widgets.Text(value=iso, description="ISO", style=style)
        self.memory = widgets.BoundedIntText(value=memory_mb, min=256, max=1_048_576, step=256,
                                             description="Memory (MB)", style=style)
        self.bridge = widgets.Text(value=bridge, description="Bridge", style=style)
        self.public_range = widgets.Text(placeholder="auto, e.g. 192.168.100.200-192.168.100.220",
                                         description="Public IPs", style=style)
        self.private_subnet = widgets.Text(placeholder="auto, e.g. 172.16.0.0/16", description="Private subnet",
                                           style=style)
        self.network_mode = widgets.Dropdown(options=list(NETWORK_MODES), value="EDGE", description="Network mode",
                                             style=style)
        self.uri = widgets.Text(value=uri or default_uri(), description="libvirt URI", style=style)
        self.dry_run = widgets.Checkbox(value=True, description="Dry run (show what launch would do)")
        self.plan_button = widgets.Button(description="Plan", button_style="primary", icon="list")
        self.plan_button.add_class("labkit-vm-plan")
        self.launch_button = widgets.Button(description="Launch", button_style="warning", icon="play")
        self.launch_button.add_class("labkit-vm-launch")
        self.destroy_button = widgets.Button(description="Destroy", button_style="danger", icon="trash")
        self.destroy_button.add_class("labkit-vm-destroy")
        self.status = widgets.HTML()
        self.out_plan = widgets.Output()
        self.out_conflicts = widgets.Output()
        self.out_checks = widgets.Output()
        self.out_rendered = widgets.Output()
        self.out_path = widgets.HTML()
        self.out_launch = widgets.Output()
        self.out_connections = widgets.Output()
        for name in ("plan", "conflicts", "checks", "rendered", "path", "launch", "connections"):
            getattr(self, f"out_{name}").add_class(f"labkit-vm-{name}-output")
        self.status.add_class("labkit-vm-status")
        self.plan_button.on_click(lambda _b: self.plan())
        self.launch_button.on_click(lambda _b: self.launch())
        self.destroy_button.on_click(lambda _b: self.destroy())
        tabs = widgets.Tab(children=[self.out_plan, self.out_conflicts, self.out_checks, self.out_rendered,
                                     self.out_path, self.out_launch, self.out_connections])
        for i, title in enumerate(("Plan", "Conflicts", "Host checks", "Commands", "Packet path", "Launch",
                                   "Connections")):
            tabs.set_title(i, title)
        self.tabs = tabs
        inputs = widgets.VBox([self.cloud, self.topology, self.nodes, self.iso, self.memory, self.bridge,
                               self.public_range, self.private_subnet, self.network_mode, self.uri, self.dry_run])
        self.widget = widgets.VBox([inputs, widgets.HBox([self.plan_button, self.launch_button,
                                                          self.destroy_button]), self.status, tabs])

    def _ipython_display_(self) -> None:
        """Show the form when it is a cell's result."""
        from IPython.display import display

        display(self.widget)

    def request(self) -> CloudRequest:
        """Return the cloud the inputs describe."""
        return CloudRequest(name=self.cloud.value.strip(), topology=self.topology.value, nodes=self.nodes.value,
                            iso=self.iso.value.strip() or None, memory_mb=self.memory.value,
                            bridge=self.bridge.value.strip(), public_range=self.public_range.value.strip() or None,
                            private_subnet=self.private_subnet.value.strip() or None,
                            network_mode=self.network_mode.value)

    def _fail(self, exc: LabkitError) -> None:
        """Show an error in the status line."""
        self.error = str(exc)
        self.status.value = f"<span style='color:#d93025'>{html.escape(self.error)}</span>"

    def plan(self):
        """Plan the cloud against what the host has; fill plan, conflicts, checks, commands and path."""
        for out in (self.out_plan, self.out_conflicts, self.out_checks, self.out_rendered):
            out.clear_output()
        self.error, self.plan_result, self.conflicts = "", None, []
        try:
            self.lab = Lab.from_host(self.uri.value.strip(), root=self.root)
            req = self.request()
            self.conflicts = self.lab.check(req)
            self.tables["conflicts"] = _show(self.out_conflicts, [c.__dict__ for c in self.conflicts] or [{"conflict": "none"}])
            plan = self.lab.add(req)
        except LabkitError as exc:
            self._fail(exc)
            return None
        self.plan_result = plan
        self.tables["plan"] = _show(self.out_plan, plan.rows())
        need = sum(v.disk.size_gb for v in plan.vms)
        self.tables["checks"] = _show(self.out_checks, host_checks(self.root, bridge=plan.bridge or "br0", vg=plan.vms[0].disk.vg or "vg01",
                                           need_gb=need, uri=self.uri.value.strip()))
        self.tables["qemu"] = _show(self.out_rendered, [{"vm": v.name, "style": s, "command": qemu_command(v, s)}
                                  for v in plan.vms for s in ("blog", "modern")], "qemu commands")
        self.tables["host_commands"] = _show(self.out_rendered, setup_commands(plan), "host commands (shown, never run)")
        with self.out_rendered:
            from IPython.display import HTML, display

            display(HTML(f"<b>libvirt XML of {html.escape(plan.vms[0].name)}</b><pre>"
                         f"{html.escape(domain_xml(plan.vms[0]))}</pre>"))
        self.out_path.value = packet_path(plan).svg()
        self.status.value = (f"planned cloud <b>{html.escape(plan.name)}</b>: {len(plan.vms)} VM(s), public "
                             f"{plan.public_range}, private {plan.private_subnet}")
        return plan

    def launch(self):
        """Plan from the inputs as they are now, launch (a dry run while the box is ticked), show connections."""
        plan = self.plan()
        if plan is None:
            return None
        self.out_launch.clear_output()
        self.out_connections.clear_output()
        dry = self.dry_run.value
        try:
            self.steps = launch(plan, uri=self.uri.value.strip(), dry_run=dry)
        except LabkitError as exc:
            self._fail(exc)
            return None
        self.tables["launch"] = _show(self.out_launch, self.steps, "dry run: nothing was changed" if dry else "done")
        self.connection_rows = connections(plan)
        self.tables["connections"] = _show(self.out_connections, self.connection_rows, "would be reachable at" if dry else "reachable at")
        self.status.value = (f"{'dry run of' if dry else 'launched'} cloud <b>{html.escape(plan.name)}</b> "
                             f"on {html.escape(self.uri.value)}: {len(self.steps)} step(s)")
        return self.steps

    def destroy(self):
        """Remove what launch created for the planned cloud (a dry run while the box is ticked)."""
        if self.plan_result is None:
            self.status.value = "plan a cloud first"
            return None
        self.out_launch.clear_output()
        try:
            self.steps = destroy(self.plan_result, uri=self.uri.value.strip(), dry_run=self.dry_run.value)
        except LabkitError as exc:
            self._fail(exc)
            return None
        self.tables["launch"] = _show(self.out_launch, self.steps, "teardown")
        return self.steps


def vm_lab_form(**kwargs) -> VmLabForm:
    """Return the VM lab form (display it in a notebook cell)."""
    return VmLabForm(**kwargs)
