"""The Pods panel: the deployment's rollout, the HPA, and one row per pod (status, ready,
restarts, CPU and memory against requests/limits, age), updated by pod name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..tables import add_columns, sync_rows
from ..widgets import set_text
from .base import Panel, ago

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.kube_model import KubeSnapshot, PodInfo

COLUMNS = [("pod", "pod"), ("status", "status"), ("ready", "ready"), ("rst", "restarts"),
           ("cpu", "cpu"), ("mem", "mem"), ("age", "age"), ("node", "node")]


def pod_status(p: PodInfo) -> Text:
    if p.deleting:
        return Text("Terminating", "yellow")
    if p.waiting_reason:
        return Text(p.waiting_reason, "bold red")
    if p.phase == "Running" and not p.is_ready:
        return Text("NotReady", "yellow")
    return Text(p.phase or "?", "green" if p.phase == "Running" else "yellow")


def trouble_first(cells: tuple) -> tuple:
    """Sort key on (status, pod): pods in trouble (CrashLoopBackOff, OOM, image errors) on
    top, then not-ready or terminating ones, then the running ones — so the pod to look at
    is on screen even when the panel shows five rows of sixty."""
    status, name = cells
    plain = getattr(status, "plain", str(status))
    rank = 2 if plain == "Running" else 1 if plain in ("NotReady", "Terminating", "Pending") else 0
    return rank, str(name)


def pct(value: float | None, warn: float = 70, crit: float = 90) -> Text:
    if value is None:
        return Text("–", "dim")
    style = "bold red" if value > crit else "yellow" if value >= warn else ""
    return Text(f"{value:.0f}%", style)


def short_name(name: str, deployment: str) -> str:
    """``mcp-server-production-7d466c5db8-x2k9p`` -> ``7d466c5db8-x2k9p``: the part that
    differs between pods, which is all a 40-column panel has room for."""
    prefix = f"{deployment}-"
    return name[len(prefix):] if deployment and name.startswith(prefix) else name


def pod_cells(p: PodInfo, deployment: str = "") -> list:
    restarts = Text(str(p.restarts), "bold red" if p.restarts_rising else "")
    if p.last_termination == "OOMKilled":
        restarts.append(" OOM", "bold red")
    return [short_name(p.name, deployment), pod_status(p), f"{p.ready}/{p.containers}", restarts, pct(p.cpu_pct),
            pct(p.memory_pct, 80, 90), ago(p.age_seconds), p.node]


def summary(snap: KubeSnapshot) -> Text:
    d, h = snap.deployment, snap.hpa
    text = Text()
    if d is None:
        text.append(snap.deployment_note or "deployment not found", "bold red")
    else:
        style = "bold red" if snap.ready_pods == 0 else "green" if snap.ready_pods >= d.desired else "yellow"
        text.append(f"{snap.ready_pods}/{d.desired} ready", style)
        if d.updated < d.desired:
            text.append(f" · rolling {d.updated}/{d.desired}", "yellow")
    if h is not None:
        cpu = f" cpu{h.cpu_current_pct if h.cpu_current_pct is not None else '?'}/{h.cpu_target_pct or '?'}%"
        text.append(f" HPA {h.current}[{h.min}-{h.max}]{cpu}")
    return text


class PodsPanel(Panel):
    TITLE = "Pods"
    HINT = "deployment, replicas, pods, restarts, CPU and memory"
    COMPONENT = "pods"
    BINDINGS = [Binding("l", "logs", "Pod logs", id="pods.logs")]

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="pods-summary", classes="panel-body")
        yield DataTable(id="pods-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)
        super().on_mount()

    def show(self, snap: KubeSnapshot) -> None:
        set_text(self.query_one("#pods-summary", Static), summary(snap))
        deployment = snap.deployment.name if snap.deployment else ""
        sync_rows(self.query_one(DataTable), [(p.name, pod_cells(p, deployment)) for p in snap.pods],
                  sort_column=("status", "pod"), sort_key=trouble_first)

    def selected_pod(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    def drill_down(self):
        from ..pods_view import PodsView

        return PodsView()

    def action_logs(self) -> None:
        from ..log_viewer import LogViewer

        pod = self.selected_pod()
        if pod:
            self.app.push_screen(LogViewer(pod))
