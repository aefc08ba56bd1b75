"""Worker failures go to the App's one handler (``McpOpsApp.on_worker_state_changed``).

A worker's ``StateChanged`` message is posted to the node that started it and does not
bubble, so a screen's failed worker would otherwise be seen by nobody when it runs with
``exit_on_error=False`` (and would quit the app without it). A screen that starts workers
mixes this in; it forwards each failure to the App, which shows and logs it.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ForwardWorkerErrors:
    """Mixed into a Screen (before ``Screen`` in its bases)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))
