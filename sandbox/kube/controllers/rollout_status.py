"""A Deployment's status, computed from its ReplicaSets the way ``kubectl rollout status``
expects to read it.

kubectl waits for ``observedGeneration >= generation``, then for ``updatedReplicas``,
``replicas`` and ``availableReplicas`` to reach the desired count, and gives up with
"exceeded its progress deadline" as soon as the Progressing condition has reason
``ProgressDeadlineExceeded``. The Progressing condition therefore follows upstream:
its ``lastUpdateTime`` moves whenever the rollout makes progress, and when it has not
moved for ``progressDeadlineSeconds`` the rollout is declared timed out.
"""

from __future__ import annotations

from ..clock import Clock
from ..store import Obj
from .base import parse_time, set_condition


def _progressing(old: Obj, new: Obj) -> bool:
    old_olds = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_olds = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or new_olds < old_olds
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deployment_status(d: Obj, new: Obj | None, rss: list[Obj], clock: Clock, *,
                      created: bool) -> tuple[Obj, float | None]:
    """The status to write, and after how many emulated seconds to look again (to notice
    a progress deadline passing), or None."""
    from .deployment import surge_and_unavailable

    spec, old = d["spec"], d.get("status") or {}
    desired = spec.get("replicas", 1)
    _, unavail = surge_and_unavailable(d)
    now = clock.timestamp()
    counts = {
        "replicas": sum(rs.get("status", {}).get("replicas", 0) for rs in rss),
        "updatedReplicas": (new or {}).get("status", {}).get("replicas", 0),
        "readyReplicas": sum(rs.get("status", {}).get("readyReplicas", 0) for rs in rss),
        "availableReplicas": sum(rs.get("status", {}).get("availableReplicas", 0) for rs in rss),
    }
    spec_total = sum(rs["spec"].get("replicas", 0) for rs in rss)
    counts["unavailableReplicas"] = max(0, spec_total - counts["availableReplicas"])
    status: Obj = {"observedGeneration": d["metadata"].get("generation", 1)}
    status.update({k: v for k, v in counts.items() if v})
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]

    conds = old.get("conditions") or []
    if counts["availableReplicas"] >= desired - unavail:
        conds = set_condition(conds, "Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.", now,
                              update_field="lastUpdateTime")
    else:
        conds = set_condition(conds, "Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.", now,
                              update_field="lastUpdateTime")

    recheck = None
    deadline = spec.get("progressDeadlineSeconds")
    rs_name = (new or {}).get("metadata", {}).get("name", "")
    current = next((c for c in conds if c.get("type") == "Progressing"), None)
    if spec.get("paused"):
        conds = set_condition(conds, "Progressing", "Unknown", "DeploymentPaused",
                              "Deployment is paused", now, update_field="lastUpdateTime")
    elif deadline is not None and new is not None:
        complete = (counts["updatedReplicas"] == desired and counts["replicas"] == desired
                    and counts["availableReplicas"] == desired)
        if current and current.get("reason") == "DeploymentPaused":
            conds = set_condition(conds, "Progressing", "Unknown", "DeploymentResumed",
                                  "Deployment is resumed", now, update_field="lastUpdateTime")
        elif complete:
            conds = set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                                  f'ReplicaSet "{rs_name}" has successfully progressed.', now,
                                  update_field="lastUpdateTime")
        elif created:
            conds = set_condition(conds, "Progressing", "True", "NewReplicaSetCreated",
                                  f'Created new replica set "{rs_name}"', now,
                                  update_field="lastUpdateTime")
        elif current is None or _progressing(old, counts) or (
                current.get("reason") == "NewReplicaSetAvailable"):
            conds = _touch(set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                                         f'ReplicaSet "{rs_name}" is progressing.', now,
                                         update_field="lastUpdateTime"), now)
            recheck = float(deadline) + 1
        elif current.get("reason") != "ProgressDeadlineExceeded":
            since = parse_time(current.get("lastUpdateTime")) or clock.now()
            left = since + deadline - clock.now()
            if left < 0:
                conds = set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                                      f'ReplicaSet "{rs_name}" has timed out progressing.', now,
                                      update_field="lastUpdateTime")
            else:
                recheck = left + 1
    status["conditions"] = _ordered(conds)
    return status, recheck


def _touch(conds: list[Obj], now: str) -> list[Obj]:
    """Progress refreshes lastUpdateTime even when reason and message stay the same."""
    for c in conds:
        if c.get("type") == "Progressing":
            c["lastUpdateTime"] = now
    return conds


def _ordered(conds: list[Obj]) -> list[Obj]:
    rank = {"Available": 0, "Progressing": 1}
    return sorted(conds, key=lambda c: rank.get(c.get("type"), 2))
