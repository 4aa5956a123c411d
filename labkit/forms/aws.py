"""The awscli provider form: preset, host/ports or URLs, region, keys; Preview (diff), Write, Verify.

The secret key is typed into a Password field and moved at once to the environment of this
kernel (``$LABKIT_AWS_SECRET_<NAME>``) or the keyring; the field is then cleared, so the
secret is never part of the notebook, its widget state or its outputs. A notebook that already
keeps the secret somewhere passes that reference (``secret_env=`` or ``secret_keyring=``), and
the form works with nothing typed. Verify shows its progress (checks done / total).
"""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as widgets

from labkit.aws import PRESETS, CloudProfile, preset_profile, verify, write_profile
from labkit.aws.credentials import secret_env_name
from labkit.aws.verify import CheckRow
from labkit.aws.write import WriteResult
from labkit.errors import LabkitError
from labkit.forms.layout import fit_text
from labkit.tables import show

STORES = ("environment", "keyring")
CREDENTIALS = ("auto", "process", "keys")
CHECKSUMS = ("when_required", "when_supported", "unset")


class ProviderForm(widgets.VBox):
    """Fill in a private cloud, preview the diff of the awscli files, write them, verify with both tools."""

    def __init__(self, *, name: str = "partner01", preset: str = "eucalyptus", host: str = "",
                 url: str = "", region: str = "partner01", access_key_id: str = "",
                 config_file: str | Path = "", credentials_file: str | Path = "", secret_env: str = "",
                 secret_keyring: str = "", credentials: str = "auto", checksums: str = "when_required") -> None:
        """Build the fields and buttons, pre-filled with the given values (the secret only by reference)."""
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="640px")
        self.name = widgets.Text(value=name, description="profile name", style=style, layout=layout)
        self.preset = widgets.Dropdown(options=list(PRESETS), value=preset, description="preset", style=style,
                                       layout=layout)
        self.host = widgets.Text(value=host, description="host / DNS domain", style=style, layout=layout)
        self.port = widgets.Text(value="", placeholder="preset default", description="port", style=style,
                                 layout=layout)
        self.url = widgets.Text(value=url, placeholder="instead of host and port, e.g. http://10.0.0.1:8773",
                                description="base URL", style=style, layout=layout)
        self.endpoints = widgets.Textarea(value="", placeholder="per-service URLs override the preset:\n"
                                          "ec2 = http://10.0.0.1:8773/services/compute",
                                          description="service URLs", style=style, layout=layout)
        self.region = widgets.Text(value=region, description="region", style=style, layout=layout)
        self.key_id = widgets.Text(value=access_key_id, description="access key id", style=style, layout=layout)
        self.secret = widgets.Password(value="", placeholder="typed here, kept in env or keyring, never saved",
                                       description="secret key", style=style, layout=layout)
        self.store = widgets.ToggleButtons(options=STORES, value="environment", description="keep secret in",
                                           style=style)
        self.credentials = widgets.ToggleButtons(options=CREDENTIALS, value=credentials, description="aws gets it by",
                                                 tooltips=["credential_process when the secret has a keyring or "
                                                           "environment home, else plain keys",
                                                           "credential_process: no secret in ~/.aws",
                                                           "plain keys in the credentials file"], style=style)
        self.checksums = widgets.Dropdown(options=CHECKSUMS, value=checksums, description="S3 checksums",
                                          style=style, layout=layout)
        self.config_file = widgets.Text(value=str(config_file), placeholder="~/.aws/config",
                                        description="config file", style=style, layout=layout)
        self.credentials_file = widgets.Text(value=str(credentials_file), placeholder="~/.aws/credentials",
                                             description="credentials file", style=style, layout=layout)
        self.force = widgets.Checkbox(value=False, description="replace a same-named profile labkit did not write")
        self.preview_button = widgets.Button(description="Preview (dry run)", icon="eye", button_style="primary")
        self.write_button = widgets.Button(description="Write", icon="save", button_style="warning", disabled=True)
        self.verify_button = widgets.Button(description="Verify", icon="check")
        self.preview_button.add_class("labkit-aws-preview")
        self.write_button.add_class("labkit-aws-write")
        self.verify_button.add_class("labkit-aws-verify")
        self.status = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="checks", style=style,
                                            layout=widgets.Layout(width="640px", visibility="hidden"))
        self.output = widgets.Output()
        self.status.add_class("labkit-aws-status")
        self.progress.add_class("labkit-aws-progress")
        self.output.add_class("labkit-aws-output")
        self.last_result: WriteResult | None = None
        self.last_rows: list[CheckRow] = []
        self._secret_ref: dict[str, str] = {k: v for k, v in (("secret_env", secret_env),
                                                                ("secret_keyring", secret_keyring)) if v}
        if self._secret_ref:
            where = f"${secret_env}" if secret_env else f"the keyring (labkit, {secret_keyring})"
            self.secret.placeholder = f"kept in {where}; type here to replace it"
        self._previewed: tuple | None = None
        self.preview_button.on_click(lambda _b: self._run(self._preview))
        self.write_button.on_click(lambda _b: self._run(self._write))
        self.verify_button.on_click(lambda _b: self._run(self._verify))
        for w in (self.name, self.preset, self.host, self.port, self.url, self.endpoints, self.region, self.key_id,
                  self.config_file, self.credentials_file, self.force, self.credentials, self.checksums):
            w.observe(self._changed, names="value")
        super().__init__([self.name, self.preset, self.host, self.port, self.url, self.endpoints, self.region,
                          self.key_id, self.secret, self.store, self.credentials, self.checksums, self.config_file,
                          self.credentials_file, self.force,
                          widgets.HBox([self.preview_button, self.write_button, self.verify_button]),
                          self.status, self.progress, self.output])
        self.add_class("labkit-aws")
        fit_text(self)

    # -- wiring -------------------------------------------------------------------------------
    def _changed(self, _change) -> None:
        """Disable Write when a field changes after a preview."""
        self.write_button.disabled = True  # a new preview is needed before writing

    def _run(self, action) -> None:
        """Run a button's action; a user mistake becomes a message, not a traceback."""
        self.output.clear_output()
        try:
            action()
        except LabkitError as exc:
            self.status.value = f"<b>error</b>: {_escape(str(exc))}"

    def _files(self) -> tuple[str | None, str | None]:
        """Return the config and credentials paths (None for awscli's defaults)."""
        return (self.config_file.value.strip() or None, self.credentials_file.value.strip() or None)

    def _keep_secret(self) -> None:
        """Move a typed secret out of the widget into the environment or keyring, then clear the field."""
        value = self.secret.value
        if not value:
            return
        self.secret.value = ""
        name = self.name.value.strip()
        if self.store.value == "keyring":
            from labkit.config import set_secret

            set_secret(f"aws/{name}", value)
            self._secret_ref = {"secret_keyring": f"aws/{name}"}
            self.secret.placeholder = f"kept in the keyring (labkit, aws/{name})"
        else:
            var = secret_env_name(name)
            os.environ[var] = value
            self._secret_ref = {"secret_env": var}
            self.secret.placeholder = f"kept in ${var} of this kernel"

    def profile(self) -> CloudProfile:
        """Return the CloudProfile the fields describe (the secret only by reference)."""
        from labkit.aws import AwsError

        self._keep_secret()
        name = self.name.value.strip()
        fields: dict = {"access_key_id": self.key_id.value.strip() or None, "credentials": self.credentials.value,
                        "checksums": None if self.checksums.value == "unset" else self.checksums.value}
        if fields["access_key_id"]:
            ref = self._secret_ref or {"secret_env": secret_env_name(name)}
            fields.update(ref)
        port = self.port.value.strip()
        if port and not port.isdigit():
            raise AwsError(f"port {port!r} is not a number", hint="leave it empty for the preset's port")
        endpoints = {}
        for line in self.endpoints.value.splitlines():
            if not line.strip() or line.strip().startswith("#"):
                continue
            svc, sep, url = line.partition("=")
            if not sep:
                raise AwsError(f"service URL line {line.strip()!r} is not 'service = URL'", hint="e.g. ec2 = http://h:8773/")
            endpoints[svc.strip()] = url.strip()
        base = preset_profile(self.preset.value, name, region=self.region.value.strip(),
                              host=self.host.value.strip(), port=int(port) if port else None,
                              url=self.url.value.strip() or None, **fields) \
            if (self.host.value.strip() or self.url.value.strip() or not endpoints) else \
            CloudProfile(name, self.region.value.strip(), **fields)
        if endpoints:
            import dataclasses

            base = dataclasses.replace(base, endpoints={**base.endpoints, **endpoints})
        return base

    def _state(self) -> tuple:
        """Return the field values a preview was made from."""
        return tuple(w.value for w in (self.name, self.preset, self.host, self.port, self.url, self.endpoints,
                                       self.region, self.key_id, self.config_file, self.credentials_file,
                                       self.force, self.credentials, self.checksums))

    def _preview(self) -> None:
        """Show the dry-run diff and enable Write."""
        cfg, cred = self._files()
        result = write_profile(self.profile(), cfg, cred, dry_run=True, force=self.force.value)
        self.last_result = result
        self._previewed = self._state()
        self.write_button.disabled = not result.changed
        self.status.value = ("dry run: the diff below is what <b>Write</b> does" if result.changed
                             else "nothing to change: the files already hold this profile") \
            + f" &middot; secret: {_escape(result.secret)}"
        with self.output:
            print(result.diff or "(no changes)")
            for note in result.notes:
                print(f"note: {note}")

    def _write(self) -> None:
        """Write the previewed profile and show the files table."""
        if self._previewed != self._state():
            self.write_button.disabled = True
            self.status.value = "the fields changed since the preview: preview again first"
            return
        cfg, cred = self._files()
        result = write_profile(self.profile(), cfg, cred, dry_run=False, force=self.force.value)
        self.last_result = result
        self.write_button.disabled = True
        self.status.value = f"written: {', '.join(f.path for f in result.files if f.changed) or 'nothing changed'}"
        with self.output:
            show(result.rows())

    def _verify(self) -> None:
        """Verify the profile with both tools, showing checks done / total, then the check table."""
        cfg, cred = self._files()
        self.status.value = "verifying with boto3 and the aws CLI ..."
        self.progress.value, self.progress.max = 0, 1
        self.progress.layout.visibility = "visible"

        def step(done: int, total: int, row: CheckRow) -> None:
            """Move the bar and say which check just finished."""
            self.progress.max, self.progress.value = total, done
            self.progress.description = f"{done} / {total}"
            self.status.value = f"verifying: {done} of {total} checks done ({_escape(row.tool)}: {_escape(row.check)})"

        rows = verify(self.name.value.strip(), cfg, cred, progress=step)
        self.last_rows = rows
        failed = sum(r.status == "fail" for r in rows)
        self.status.value = f"{len(rows) - failed} of {len(rows)} checks passed, skipped or informed, {failed} failed"
        with self.output:
            show(rows)


def _escape(text: str) -> str:
    """Escape text for an HTML widget."""
    import html

    return html.escape(text)
