"""The App's side of wizards and session logs, kept out of ``app.py``.

:class:`WizardActions` is mixed into ``McpOpsApp``: the `w` picker, the `L` log viewer,
command-palette entries (one per wizard, so "scal" finds scaling), resuming a session
from the viewer, and the start-up read-only probe whose verdict goes to the header.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import SystemCommand

from actions.catalogue import catalogue, get
from console.execution.log_store import SessionSummary
from console.execution.model import Wizard
from console.execution.redaction import redactor_for
from console.execution.session_log import default_directory

from .deferred import load_after_first_frame


class WizardActions:
    """Needs ``config``, ``env_name``, ``environment``, ``read_only``, ``operator``."""

    # (environment name, KubeSource) the header's lease reads go through: one connection
    # kept between reads, not a kubeconfig read and a TLS handshake every 10 s
    _lease_source: tuple[str, Any] | None = None

    def session_directory(self) -> Path:
        return default_directory(self.config.session_log.directory)

    def action_wizards(self) -> None:
        from .header import StatusHeader
        from .wizard_picker import WizardPicker

        held = self.query_one(StatusHeader).held_by if self.query(StatusHeader) else ""
        self.push_screen(WizardPicker(read_only=self.read_only, held_by=held),
                         self._wizard_chosen)

    def _wizard_chosen(self, wizard_id: str | None) -> None:
        if wizard_id:
            self.start_wizard(wizard_id)

    def start_wizard(self, wizard_id: str, resume: Path | None = None,
                     answers: dict[str, str] | None = None) -> None:
        from .wizard_runner import WizardRunner

        wizard = get(wizard_id)
        if not wizard.built:
            self.notify(wizard.not_built_message(), severity="warning", markup=False)
            return
        self.push_screen(WizardRunner(config=self.config, env_name=self.env_name, wizard=wizard,
                                      read_only=self.read_only, operator=self.operator,
                                      resume=resume, directory=self.session_directory(),
                                      answers=answers))

    def start_action(self, wizard: Wizard) -> None:
        """A one-step action on what the operator is looking at (actions.panel_actions):
        run through the runner like any wizard — plan, confirmation, session log, lease."""
        from .wizard_runner import WizardRunner

        self.push_screen(WizardRunner(config=self.config, env_name=self.env_name, wizard=wizard,
                                      read_only=self.read_only, operator=self.operator,
                                      directory=self.session_directory()))

    def action_session_logs(self) -> None:
        from .session_log_view import SessionLogView

        self.push_screen(SessionLogView(self.session_directory(), redactor_for(self.config)),
                         self._resume_chosen)

    def _resume_chosen(self, summary: SessionSummary | None) -> None:
        """The viewer's summary (verified off the UI thread): the runner verifies the log
        again when it reopens it, in its worker."""
        if summary is None or summary.wizard is None:
            return
        if summary.env != self.env_name:
            self.notify(f"{summary.id} ran on {summary.env}; switch to it first (e)",
                        severity="warning", markup=False)
            return
        self.start_wizard(summary.wizard, resume=summary.path)

    def wizard_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Wizards", "Pick a runbook procedure to run (w)", self.action_wizards)
        yield SystemCommand("Session logs", "Past sessions: show, verify, export, resume (L)",
                            self.action_session_logs)
        for wizard in catalogue():
            if wizard.built:
                yield SystemCommand(f"Wizard: {wizard.title}",
                                    f"{wizard.section} · {wizard.highest_risk.label}",
                                    lambda wid=wizard.id: self.start_wizard(wid))

    @work(exclusive=True, group="lease", exit_on_error=False)
    async def show_lease_holder(self) -> None:
        """Who else holds the environment's operator lease, in the header (every 10 s)."""
        from datetime import UTC, datetime

        if not self.live:
            return
        await load_after_first_frame()
        from console.sources.kube import KubeSource
        from console.sources.operator_lease import read_lease

        if self._lease_source is None or self._lease_source[0] != self.env_name:
            await self.close_lease_source()  # another environment's
            self._lease_source = (self.env_name, KubeSource(self.environment.kubernetes))
        try:
            state = await read_lease(self._lease_source[1], self.environment.kubernetes,
                                     self.env_name)
        except Exception:  # noqa: BLE001 - no answer: the Pods panel already says so
            state = None
        me = f"{self.operator.user}@{self.operator.host}"
        held = ""
        if state is not None and state.holder is not None \
                and not state.expired(datetime.now(UTC)) and state.holder.identity != me:
            held = f"{state.holder.operator} ({state.holder.wizard})"
        try:
            from .header import StatusHeader

            self.query_one(StatusHeader).held_by = held
        except Exception:  # the header may be gone (app closing)
            return

    async def close_lease_source(self) -> None:
        held, self._lease_source = self._lease_source, None
        if held is not None:
            await held[1].close()

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def probe_credentials(self) -> None:
        """What the credentials could write; shown in the header and as a notification."""
        if not self.live:  # tests of the layout run without live sources
            return
        await load_after_first_frame()
        from console.execution.probe import probe_environment

        report = await probe_environment(self.environment,
                                         timeout=self.config.ui.source_timeout_seconds + 2)
        self.credentials_report = report
        try:
            from .header import StatusHeader

            header = self.query_one(StatusHeader)
            header.credentials_can_write = report.credentials_can_write
            if report.credentials_can_write is False:  # nothing could change: read-only
                self.credentials_read_only = True
                header.read_only = True
        except Exception:  # the header may be gone (app closing)
            return
        if report.credentials_can_write and self.read_only:
            self.notify(report.header_text(True) + " — " + "; ".join(
                c.describe() for c in report.capabilities if c.can_write), markup=False,
                severity="warning", timeout=8)
