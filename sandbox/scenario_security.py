"""Security scenarios: an intrusion attempt in the application's logs, Falco alerts.

- ``intrusion``: over the last three hours one hostile address (:data:`HOSTILE`) has tried
  API keys and expired tokens against every MCP-server pod — some 1,800 failed
  authentications, far above the everyday background — while the usual clients carry on.
- ``falco-alert``: Falco's pods report a shell and a dropped binary executed in an
  MCP-server container and a write below ``/etc``: Error and Critical alerts, which the
  everyday noise (Notice, Warning) never reaches.

Both write real log lines into the emulated pods' logs (``log_book.append_log_line``), in
the programs' own formats, so ``kubectl logs`` and the wizards read them like any other;
the lines carry a marker (an address, a container id) by which the revert removes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .kube.log_book import append_log_line, remove_log_lines
from .kube.log_lines import app_time, falco_time

if TYPE_CHECKING:
    from .platform import Sandbox

NAMESPACE = "mcp-production"
HOSTILE = "198.18.7.23"  # the intrusion's address (benchmarking range, RFC 2544)
PER_POD = 300
FALCO_CONTAINER = "3f1c0ffee5ca"  # the compromised container's id in the Falco alerts
USERS = ["admin", "root", "svc-reporting", "ci-deployer", "test", "administrator"]


def _cluster(sandbox: Sandbox):
    assert sandbox.clusters is not None
    return sandbox.clusters.production.cluster


def _pods(cluster, namespace: str, app: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.store.iter("pods", namespace)
                  if (p["metadata"].get("labels") or {}).get("app") == app)


def intrusion_lines(start: float, end: float, count: int, offset: int = 0) -> list[tuple[float, str]]:
    out = []
    for i in range(count):
        t = start + (end - start) * (i + 0.5) / count
        user = USERS[(i + offset) % len(USERS)]
        if i % 3 == 2:
            text = (f'{app_time(t)} WARN  [mcp.http] {HOSTILE} - "POST /mcp/v1/tools/call '
                    f'HTTP/1.1" 401 Unauthorized 2ms - unauthorized: invalid token')
        else:
            text = (f'{app_time(t)} WARN  [mcp.auth] authentication failed for user "{user}" '
                    f"from {HOSTILE}: invalid API key")
        out.append((t, text))
    return out


async def intrusion_apply(sandbox: Sandbox) -> None:
    inject_intrusion(_cluster(sandbox))


def inject_intrusion(cluster) -> None:
    now = cluster.clock.now()
    for n, pod in enumerate(_pods(cluster, NAMESPACE, "mcp-server")):
        for t, text in intrusion_lines(now - 3 * 3600, now - 5, PER_POD, offset=n):
            append_log_line(cluster, NAMESPACE, pod, "mcp-server", text, at=t)


async def intrusion_revert(sandbox: Sandbox) -> None:
    remove_log_lines(_cluster(sandbox), HOSTILE)


FALCO_ALERTS = [
    ("Critical", "Drop and execute new binary in container", "command=/tmp/.x/kworker"),
    ("Error", "File below /etc opened for writing (file=/etc/ld.so.preload)",
     "command=bash"),
    ("Warning", "Terminal shell in container (shell=bash parent=runc)", "command=bash"),
]


async def falco_apply(sandbox: Sandbox) -> None:
    inject_falco(_cluster(sandbox))


def inject_falco(cluster) -> None:
    now = cluster.clock.now()
    victim = (_pods(cluster, NAMESPACE, "mcp-server") or ["mcp-server"])[0]
    node = (cluster.store.peek("pods", NAMESPACE, victim) or {}).get("spec", {}).get("nodeName")
    falco = [p["metadata"]["name"] for p in cluster.store.iter("pods", "security")
             if (p["metadata"].get("labels") or {}).get("app") == "falco"
             and p["spec"].get("nodeName") == node] or _pods(cluster, "security", "falco")[:1]
    for pod in falco[:1]:  # the Falco pod of the victim's node
        for i, (priority, rule, command) in enumerate(FALCO_ALERTS * 2):
            t = now - 2 * 3600 + i * 600
            append_log_line(cluster, "security", pod, "falco", (
                f"{falco_time(t)}: {priority} {rule} (user=root user_loginuid=-1 {command} "
                f"container_id={FALCO_CONTAINER} image=ghcr.io/pratiko/mcp-server "
                f"k8s.ns={NAMESPACE} k8s.pod={victim})"), at=t)


async def falco_revert(sandbox: Sandbox) -> None:
    remove_log_lines(_cluster(sandbox), FALCO_CONTAINER)
