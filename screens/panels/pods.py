"""The Pods panel: deployment, replicas, pods, restarts, CPU and memory."""

from __future__ import annotations

from .base import Panel


class PodsPanel(Panel):
    TITLE = "Pods"
    HINT = "deployment, replicas, pods, restarts, CPU and memory"
