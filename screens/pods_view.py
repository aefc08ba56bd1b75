"""Pods drill-down: every pod of the deployment with `/` to filter, `s` to change the sort,
`enter` for a pod's detail (with its Warning events) and `l` for its logs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from console.collectors.kube_model import KubeSnapshot, PodInfo

from .drilldown import DrillDown
from .literal import printable_text
from .panels.base import ago
from .panels.pods import pct, pod_status, summary
from .tables import add_columns, sync_rows
from .widgets import set_text

COLUMNS = [("pod", "pod"), ("status", "status"), ("ready", "ready"), ("restarts", "restarts"),
           ("last exit", "last"), ("cpu", "cpu"), ("cpu m", "cpu_m"), ("mem", "mem"),
           ("mem MiB", "mem_mb"), ("age", "age"), ("node", "node")]
# sort name -> (column, key on the cell, reverse)
SORTS = {
    "name": ("pod", str, False),
    "status": ("status", lambda t: str(t), False),
    "restarts": ("restarts", int, True),
    "cpu": ("cpu_m", lambda v: float(v) if v != "–" else -1.0, True),
    "memory": ("mem_mb", lambda v: float(v) if v != "–" else -1.0, True),
    "age": ("age_s", float, False),
}


def cells(p: PodInfo) -> list:
    return [p.name, pod_status(p), f"{p.ready}/{p.containers}", str(p.restarts),
            Text(p.last_termination, "bold red" if p.last_termination == "OOMKilled" else ""),
            pct(p.cpu_pct), f"{p.cpu_m:.0f}" if p.cpu_m is not None else "–",
            pct(p.memory_pct, 80, 90),
            f"{p.memory_bytes / 1048576:.0f}" if p.memory_bytes is not None else "–",
            ago(p.age_seconds), p.node, p.age_seconds]


class PodDetail(ModalScreen[None]):
    DEFAULT_CSS = """
    PodDetail { align: center middle; }
    PodDetail > Static { width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="pod.close")]

    def __init__(self, pod: PodInfo, snap: KubeSnapshot) -> None:
        super().__init__()
        self.pod, self.snap = pod, snap

    def compose(self) -> ComposeResult:
        p = self.pod
        text = Text()
        text.append(f"{p.name}\n", "bold")
        rows = [
            ("status", pod_status(p).plain), ("phase", p.phase), ("ready", f"{p.ready}/{p.containers}"),
            ("restarts", f"{p.restarts}" + (" (rising)" if p.restarts_rising else "")),
            ("waiting", p.waiting_reason or "-"), ("last termination", p.last_termination or "-"),
            ("node", p.node or "-"), ("age", ago(p.age_seconds)),
            ("cpu", _usage(p.cpu_m, p.cpu_request_m, p.cpu_limit_m, "m")),
            ("memory", _usage(_mib(p.memory_bytes), _mib(p.memory_request_bytes),
                              _mib(p.memory_limit_bytes), "Mi")),
        ]
        for key, value in rows:
            text.append(f"{key:>17}  ", "dim").append(f"{value}\n")
        events = [e for e in self.snap.events if e.object == f"Pod/{p.name}"]
        text.append("\nWarning events\n", "bold")
        for e in events or []:
            text.append(f"  {ago(e.age_seconds):>4} {e.reason}: {e.message} (x{e.count})\n")
        if not events:
            text.append("  none\n", "dim")
        yield Static(printable_text(text))  # names, reasons, messages from the platform


def _mib(n: float | None) -> float | None:
    return n / 1048576 if n is not None else None


def _usage(used, request, limit, unit: str) -> str:
    f = lambda v: f"{v:.0f}{unit}" if v is not None else "-"  # noqa: E731
    return f"{f(used)} used, request {f(request)}, limit {f(limit)}"


class PodsView(DrillDown):
    COMPONENT = "pods"
    GRAFANA = "infrastructure"
    BINDINGS = [
        # room for the row's actions in 80 columns: the global keys work here unshown (the
        # dashboard's footer and ? list them)
        Binding("r", "refresh", "Refresh", show=False, id="pods.refresh"),
        *(Binding(key, f"app.{action}", show=False) for key, action in (
            ("q", "quit"), ("e", "switch_environment"), ("question_mark", "help"),
            ("w", "wizards"), ("L", "session_logs"))),
        Binding("S", "scenario", show=False),  # the sandbox's scenario menu, where there is one
        Binding("slash", "filter", "Filter", key_display="/", id="pods.filter"),
        Binding("s", "sort", "Sort", id="pods.sort"),
        Binding("l", "logs", "Logs", id="pods.logs"),
        Binding("d", "act('delete')", "Delete", id="pods.delete"),
        Binding("R", "act('restart')", "Restart", id="pods.restart"),
        Binding("u", "act('undo')", "Undo", id="pods.undo"),
        Binding("plus", "act('scale_up')", "+1", key_display="+", id="pods.scale-up"),
        Binding("minus", "act('scale_down')", "-1", key_display="-", id="pods.scale-down"),
        Binding("c", "act('cordon')", "Cordon", id="pods.cordon"),
        Binding("D", "act('drain')", "Drain node", show=False, id="pods.drain"),
    ]
    DEFAULT_CSS = """
    PodsView #pods-filter { display: none; height: 3; }
    PodsView #pods-filter.-visible { display: block; }
    PodsView DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.sort_name = "name"

    def compose(self) -> ComposeResult:
        yield Static("Pods", classes="title-line", id="pods-title")
        yield Static("", classes="stale-line")
        yield Static("", id="pods-view-summary")
        yield Input(placeholder="filter pods (name, status, node); enter to apply, escape to clear",
                    id="pods-filter")
        yield DataTable(id="pods-view-table", cursor_type="row")
        # a key for every action on the row: compact, so all of them fit in 80 columns
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        add_columns(table, COLUMNS + [("", "age_s")])
        table.focus()
        super().on_mount()

    @staticmethod
    def overview(snap: KubeSnapshot) -> Text:
        """Deployment and HPA, then nodes with their state and usage, then the latest
        Warning events."""
        text = summary(snap)
        d = snap.deployment
        if d is not None:
            text.append(f"\nimage {d.image}  revision {d.revision}  rollout {d.rollout or '?'}")
        nodes = []
        for n in snap.nodes:
            state = "Ready" if n.ready else "NotReady"
            extra = [p for p in n.pressures] + (["cordoned"] if n.unschedulable else [])
            usage = (f" cpu {n.cpu_pct:.0f}% mem {n.memory_pct:.0f}%"
                     if n.cpu_pct is not None and n.memory_pct is not None else "")
            usage += f" disk {n.disk_pct:.0f}%" if n.disk_pct is not None else ""
            nodes.append(f"{n.name} {state}{' ' + ','.join(extra) if extra else ''}{usage}")
        text.append("\nnodes: " + ("; ".join(nodes) or "none"))
        for e in snap.events[:3]:
            text.append(f"\n{ago(e.age_seconds):>4} {e.object} {e.reason}: {e.message[:120]}", "yellow")
        return text

    def visible_pods(self, snap: KubeSnapshot) -> list[PodInfo]:
        needle = self.filter_text.lower()
        return [p for p in snap.pods if not needle or needle in
                f"{p.name} {pod_status(p).plain} {p.node} {p.last_termination}".lower()]

    def show(self, snap: KubeSnapshot) -> None:
        set_text(self.query_one("#pods-view-summary", Static), self.overview(snap))
        pods = self.visible_pods(snap)
        title = f"Pods in {snap.namespace} — {len(pods)}/{len(snap.pods)} shown, sorted by {self.sort_name}"
        if self.filter_text:
            title += f", filter '{self.filter_text}'"
        set_text(self.query_one("#pods-title", Static), title)
        column, key, reverse = SORTS[self.sort_name]
        sync_rows(self.query_one(DataTable), [(p.name, cells(p)) for p in pods],
                  sort_column=column, sort_key=key, reverse=reverse)

    # ---- keys ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#pods-filter", Input)
        box.add_class("-visible")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        if self.snapshot is not None:
            self.show(self.snapshot)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#pods-filter", Input)
        if box.has_focus or self.filter_text:
            box.value = ""
            box.remove_class("-visible")
            self.query_one(DataTable).focus()
        else:
            super().action_back()

    def action_sort(self) -> None:
        names = list(SORTS)
        self.sort_name = names[(names.index(self.sort_name) + 1) % len(names)]
        if self.snapshot is not None:
            self.show(self.snapshot)

    def selected(self) -> PodInfo | None:
        table = self.query_one(DataTable)
        if self.snapshot is None or not table.row_count:
            return None
        name = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return next((p for p in self.snapshot.pods if p.name == name), None)

    def action_detail(self) -> None:
        pod = self.selected()
        if pod is not None:
            self.app.push_screen(PodDetail(pod, self.snapshot))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_scenario(self) -> None:
        menu = getattr(self.app, "action_sandbox_menu", None)
        if menu is not None:
            menu()

    # ---- actions on the row under the cursor (actions.panel_actions) ----------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            if isinstance(self.focused, Input):
                return False  # typing a filter: the letters are the filter's
            if parameters and parameters[0] in ("delete", "cordon", "drain"):
                return self.selected() is not None  # needs a pod (and its node) under the cursor
            return self.snapshot is not None and self.snapshot.deployment is not None
        return True

    def action_act(self, what: str) -> None:
        from actions import panel_actions as act

        snap, pod = self.snapshot, self.selected()
        if snap is None:
            return
        ns, d = snap.namespace, snap.deployment
        node = next((n for n in snap.nodes if pod is not None and n.name == pod.node), None)
        wizard = None
        if what == "delete" and pod is not None:
            wizard = act.delete_pod(ns, pod.name)
        elif what == "cordon" and pod is not None and pod.node:
            wizard = act.cordon_node(pod.node, undo=bool(node and node.unschedulable))
        elif what == "drain" and pod is not None and pod.node:
            wizard = act.drain_node(pod.node)
        elif d is not None and what == "restart":
            wizard = act.restart_deployment(ns, d.name)
        elif d is not None and what == "undo":
            wizard = act.undo_deployment(ns, d.name, d.revision)
        elif d is not None and what in ("scale_up", "scale_down"):
            wizard = act.scale_deployment(ns, d.name, d.desired, 1 if what == "scale_up" else -1)
        if wizard is not None:
            self.app.start_action(wizard)

    def action_logs(self) -> None:
        from .log_viewer import LogViewer

        pod = self.selected()
        if pod is not None:
            self.app.push_screen(LogViewer(pod.name))
