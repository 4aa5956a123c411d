"""The VM lab form: describe a cloud, see its plan, conflicts, checks, commands and seed; launch, save the plan
file, wait until the VMs answer, snapshot and revert (every side effect a dry run until the box is unticked)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from labkit.errors import LabkitError
from labkit.forms.layout import fit_text, tab_titles_in_full
from labkit.tables import show, to_frame
from labkit.vm.checks import host_checks
from labkit.vm.connection import default_uri
from labkit.vm.hostfiles import setup_commands
from labkit.vm.lab import CloudRequest, Lab
from labkit.vm.launch import connections, destroy, launch
from labkit.vm.packet_path import packet_path
from labkit.vm.plan_file import plan_text, save_plan
from labkit.vm.ready import wait_ready
from labkit.vm.render_libvirt import domain_xml
from labkit.vm.render_qemu import qemu_command
from labkit.vm.seed import seed_files
from labkit.vm.snapshot import revert, snapshot, snapshots
from labkit.vm.spec import CIAB, FRONTEND_NC, NETWORK_MODES

# Tab title -> the CSS class of its output (labkit-vm-KEY-output), which browser tests select on.
TAB_KEYS = {"Plan": "plan", "Conflicts": "conflicts", "Host checks": "checks", "Commands": "rendered",
            "Packet path": "path", "Seed": "seed", "Launch": "launch", "Connections": "connections",
            "Plan file": "plan-file", "Ready": "ready", "Snapshots": "snapshots"}
TABS = tuple(TAB_KEYS)


def _show(out: widgets.Output, rows, title: str = ""):
    """Show rows as a DataFrame (under an optional title) in an Output; return the frame."""
    from IPython.display import HTML, display

    frame = to_frame(rows)
    with out:
        if title:
            display(HTML(f"<b>{html.escape(title)}</b>"))
        show(frame)
    return frame


def _pre(out: widgets.Output, title: str, text: str) -> None:
    """Show a titled block of text in an Output."""
    from IPython.display import HTML, display

    with out:
        display(HTML(f"<b>{html.escape(title)}</b><pre>{html.escape(text)}</pre>"))


class VmLabForm:
    """Widgets over :class:`labkit.vm.Lab`: Plan fills the tables; Launch, Save, Snapshot and Revert are dry runs
    while the box is ticked; Wait probes the planned addresses."""

    def __init__(self, *, uri: str | None = None, cloud: str = "ciab1", topology: str = CIAB, nodes: int = 0,
                 iso: str = "/var/lib/libvirt/isos/silvereye.iso", memory_mb: int | str = 4096, bridge: str = "br0",
                 root: str = "/", plan_file: str = "lab.toml", seed_dir: str = "") -> None:
        """Build the widgets with these starting values."""
        self.root = root
        self.lab: Lab | None = None
        self.plan_result = None
        self.steps: list = []
        self.connection_rows: list = []
        self.ready_rows: list = []
        self.snapshot_steps: list = []
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
        self.memory = widgets.Text(value=str(memory_mb), description="Memory", placeholder="4096, 4G or 4096M",
                                   style=style)
        self.bridge = widgets.Text(value=bridge, description="Bridge", style=style)
        self.public_range = widgets.Text(placeholder="auto, e.g. 192.168.100.200-192.168.100.220",
                                         description="Public IPs", style=style)
        self.private_subnet = widgets.Text(placeholder="auto, e.g. 172.16.0.0/16", description="Private subnet",
                                           style=style)
        self.network_mode = widgets.Dropdown(options=list(NETWORK_MODES), value="EDGE", description="Network mode",
                                             style=style)
        self.seed = widgets.Dropdown(options=[("none", ""), ("cloud-init (NoCloud)", "nocloud"),
                                              ("kickstart", "kickstart")], value="", description="Unattended install",
                                     style=style)
        self.seed_dir = widgets.Text(value=seed_dir, placeholder="default: the disks' folder", description="Seed folder",
                                     style=style)
        self.ssh_key = widgets.Text(placeholder="ssh-ed25519 AAAA... (goes into the seed)", description="SSH key",
                                    style=style)
        self.uri = widgets.Text(value=uri or default_uri(), description="libvirt URI", style=style)
        self.plan_file = widgets.Text(value=plan_file, description="Plan file", style=style)
        self.probe = widgets.Text(value="ssh", description="Wait for", style=style,
                                  placeholder="ssh (sshd's banner), tcp:PORT, lease or serial:TEXT")
        self.timeout = widgets.BoundedIntText(value=300, min=1, max=86400, description="Timeout (s)", style=style)
        self.snapshot_name = widgets.Text(value="installed", description="Snapshot name", style=style)
        self.dry_run = widgets.Checkbox(value=True, description="Dry run (show what would change)")
        self.status = widgets.HTML()
        self.status.add_class("labkit-vm-status")
        buttons = []
        for name, label, style_name, icon, action in (
                ("plan", "Plan", "primary", "list", self.plan), ("launch", "Launch", "warning", "play", self.launch),
                ("destroy", "Destroy", "danger", "trash", self.destroy),
                ("save", "Save plan", "", "save", self.save), ("wait", "Wait", "info", "clock-o", self.wait),
                ("snapshot", "Snapshot", "", "camera", self.snapshot), ("revert", "Revert", "", "undo", self.revert)):
            b = widgets.Button(description=label, button_style=style_name, icon=icon)
            b.add_class(f"labkit-vm-{name}")
            b.on_click(lambda _b, act=action: act())
            setattr(self, f"{name}_button", b)
            buttons.append(b)
        self.outputs: dict[str, widgets.Output] = {}
        children = []
        for title, key in TAB_KEYS.items():
            out = widgets.HTML() if key == "path" else widgets.Output()
            out.add_class(f"labkit-vm-{key}-output")
            self.outputs[title] = out
            children.append(out)
        self.out_plan, self.out_conflicts, self.out_checks = (self.outputs[t] for t in TABS[:3])
        self.out_rendered, self.out_path, self.out_seed = (self.outputs[t] for t in TABS[3:6])
        self.out_launch, self.out_connections, self.out_plan_file = (self.outputs[t] for t in TABS[6:9])
        self.out_ready, self.out_snapshots = self.outputs["Ready"], self.outputs["Snapshots"]
        self.tabs = widgets.Tab(children=children)
        for i, title in enumerate(TABS):
            self.tabs.set_title(i, title)
        inputs = widgets.VBox([self.cloud, self.topology, self.nodes, self.iso, self.memory, self.bridge,
                               self.public_range, self.private_subnet, self.network_mode, self.seed, self.seed_dir,
                               self.ssh_key, self.uri, self.plan_file, self.probe, self.timeout, self.snapshot_name,
                               self.dry_run])
        self.widget = fit_text(widgets.VBox([inputs, widgets.HBox(buttons[:3]), widgets.HBox(buttons[3:]),
                                             self.status, self.tabs, tab_titles_in_full("labkit-vm")]))
        self.widget.add_class("labkit-vm")

    def _ipython_display_(self) -> None:
        """Show the form when it is a cell's result."""
        from IPython.display import display

        display(self.widget)

    def _select(self, title: str) -> None:
        """Bring a result tab to the front."""
        self.tabs.selected_index = TABS.index(title)

    def request(self) -> CloudRequest:
        """Return the cloud the inputs describe (sizes like "4G" are checked by the request)."""
        return CloudRequest(name=self.cloud.value.strip(), topology=self.topology.value, nodes=self.nodes.value,
                            iso=self.iso.value.strip() or None, memory_mb=self.memory.value.strip(),
                            bridge=self.bridge.value.strip(), public_range=self.public_range.value.strip() or None,
                            private_subnet=self.private_subnet.value.strip() or None,
                            network_mode=self.network_mode.value, seed=self.seed.value,
                            seed_dir=self.seed_dir.value.strip() or None,
                            ssh_keys=(self.ssh_key.value.strip(),) if self.ssh_key.value.strip() else ())

    def _fail(self, exc: LabkitError) -> None:
        """Show an error in the status line."""
        self.error = str(exc)
        self.status.value = f"<span style='color:#d93025'>{html.escape(self.error)}</span>"

    def plan(self):
        """Plan the cloud against what the host has; fill plan, conflicts, checks, commands, path and seed."""
        for title in ("Plan", "Conflicts", "Host checks", "Commands", "Seed"):
            self.outputs[title].clear_output()
        self.error, self.plan_result, self.conflicts = "", None, []
        try:
            self.lab = Lab.from_host(self.uri.value.strip(), root=self.root)
            req = self.request()
            self.conflicts = self.lab.check(req)
            self.tables["conflicts"] = _show(self.out_conflicts,
                                             [c.__dict__ for c in self.conflicts] or [{"conflict": "none"}])
            plan = self.lab.add(req)
        except LabkitError as exc:
            self._fail(exc)
            return None
        self.plan_result = plan
        self.tables["plan"] = _show(self.out_plan, plan.rows())
        need = sum(v.disk.size_gb for v in plan.vms)
        self.tables["checks"] = _show(self.out_checks, host_checks(
            self.root, bridge=plan.bridge or "br0", vg=plan.vms[0].disk.vg or "vg01", need_gb=need,
            uri=self.uri.value.strip()))
        self.tables["qemu"] = _show(self.out_rendered, [{"vm": v.name, "style": s, "command": qemu_command(v, s)}
                                                        for v in plan.vms for s in ("blog", "modern")],
                                    "qemu commands")
        self.tables["host_commands"] = _show(self.out_rendered, setup_commands(plan),
                                             "host commands (shown, never run)")
        _pre(self.out_rendered, f"libvirt XML of {plan.vms[0].name}", domain_xml(plan.vms[0], plan=plan))
        self.out_path.value = packet_path(plan).svg()
        kind = plan.seed_kind or "nocloud"
        for name, text in seed_files(plan, plan.vms[0], kind).items():
            _pre(self.out_seed, f"{plan.vms[0].name}: {name}" + ("" if plan.seed_kind else
                                                                  " (not attached: choose an unattended install)"),
                 text)
        self.status.value = (f"planned cloud <b>{html.escape(plan.name)}</b>: {len(plan.vms)} VM(s), public "
                             f"{plan.public_range}, private {plan.private_subnet}")
        return plan

    def _act(self, tab: str, work, *, replan: bool = True):
        """Plan from the inputs (or reuse the last plan), clear ``tab``, run ``work(plan)`` and bring ``tab`` to the
        front; a LabkitError goes to the status line and returns None."""
        plan = self.plan() if replan or self.plan_result is None else self.plan_result
        if plan is None:
            return None
        self.outputs[tab].clear_output()
        try:
            result = work(plan, self.uri.value.strip(), self.dry_run.value)
        except LabkitError as exc:
            self._fail(exc)
            return None
        self._select(tab)
        return result

    def launch(self):
        """Plan from the inputs as they are now, launch (a dry run while the box is ticked), show connections."""
        def work(plan, uri, dry):
            self.out_connections.clear_output()
            self.steps = launch(plan, uri=uri, dry_run=dry)
            self.tables["launch"] = _show(self.out_launch, self.steps, "dry run: nothing was changed" if dry else "done")
            self.connection_rows = connections(plan)
            self.tables["connections"] = _show(self.out_connections, self.connection_rows,
                                               "would be reachable at" if dry else "reachable at")
            self.status.value = (f"{'dry run of' if dry else 'launched'} cloud <b>{html.escape(plan.name)}</b> "
                                 f"on {html.escape(uri)}: {len(self.steps)} step(s)")
            return self.steps

        return self._act("Launch", work)

    def destroy(self):
        """Remove what launch created for the planned cloud (a dry run while the box is ticked)."""
        def work(plan, uri, dry):
            self.steps = destroy(plan, uri=uri, dry_run=dry)
            self.tables["launch"] = _show(self.out_launch, self.steps, "teardown" + (" (dry run)" if dry else ""))
            return self.steps

        return self._act("Launch", work, replan=False)

    def save(self):
        """Show the plan file (and write it when the box is unticked)."""
        def work(plan, _uri, dry):
            path = self.plan_file.value.strip()
            if dry:
                text, title = plan_text([plan], path.rsplit("/", 1)[-1] or "lab.toml"), f"{path} (dry run: not written)"
            else:
                written = save_plan(path, [plan])
                text, title = written.read_text(encoding="utf-8"), f"written to {written}"
            _pre(self.out_plan_file, title, text)
            self.status.value = html.escape(title)
            return text

        return self._act("Plan file", work)

    def wait(self):
        """Wait until each VM answers at its planned address; show the table."""
        def work(plan, uri, _dry):
            self.status.value = (f"waiting up to {self.timeout.value} s for {len(plan.vms)} VM(s) of "
                                 f"{html.escape(plan.name)} ({html.escape(self.probe.value.strip())}) ...")
            with self.out_ready:
                self.ready_rows = wait_ready(plan, self.probe.value.strip(), timeout=self.timeout.value, uri=uri)
            self.tables["ready"] = _show(self.out_ready, self.ready_rows)
            ready = sum(r.ready for r in self.ready_rows)
            self.status.value = f"{ready} of {len(self.ready_rows)} VM(s) of {html.escape(plan.name)} answered"
            return self.ready_rows

        return self._act("Ready", work)

    def _snapshots(self, act):
        """Snapshot or revert the planned cloud (a dry run while the box is ticked); show the snapshot table."""
        def work(plan, uri, dry):
            self.snapshot_steps = act(plan, self.snapshot_name.value.strip(), uri=uri, dry_run=dry)
            self.tables["snapshot_steps"] = _show(self.out_snapshots, self.snapshot_steps,
                                                  "dry run: nothing was changed" if dry else "done")
            self.tables["snapshots"] = _show(self.out_snapshots, snapshots(plan, uri=uri) or [{"snapshot": "none yet"}],
                                             "snapshots")
            return self.snapshot_steps

        return self._act("Snapshots", work)

    def snapshot(self):
        """Take a snapshot of the whole cloud (a dry run while the box is ticked)."""
        return self._snapshots(snapshot)

    def revert(self):
        """Bring the whole cloud back to the named snapshot (a dry run while the box is ticked)."""
        return self._snapshots(revert)


def vm_lab_form(**kwargs) -> VmLabForm:
    """Return the VM lab form (display it in a notebook cell)."""
    return VmLabForm(**kwargs)
