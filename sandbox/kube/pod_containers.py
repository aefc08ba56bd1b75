"""Container checks shared by ``/exec`` and ``/log``, with the real server's messages.

Both subresources name a container (or default to the only one), and both refuse a
container that is not running; the messages are the kubelet's, because operators and
kubectl print them verbatim.
"""

from __future__ import annotations

from typing import Any

from .store import ApiError


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def container_names(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec", {})
    return [c.get("name", "") for c in spec.get("containers", [])]


def select_container(pod: dict[str, Any], requested: str | None) -> str:
    """``requested`` if the pod has it, the only container if none was asked for, else a
    400 Status exactly as the API server words it."""
    name = pod.get("metadata", {}).get("name", "")
    names = container_names(pod)
    init_names = [c.get("name", "") for c in pod.get("spec", {}).get("initContainers", []) or []]
    if requested:
        if requested in names or requested in init_names:
            return requested
        raise bad_request(f"container {requested} is not valid for pod {name}")
    if len(names) == 1:
        return names[0]
    if not names:
        raise bad_request(f"pod {name} has no containers")
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def container_status(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    status = pod.get("status", {})
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return cs
    return None


def waiting_message(pod: dict[str, Any], container: str, reason: str | None) -> str:
    name = pod.get("metadata", {}).get("name", "")
    reason = reason or "ContainerCreating"
    if reason == "ErrImagePull":
        reason = "image can't be pulled"
    elif reason == "ImagePullBackOff":
        reason = "trying and failing to pull image"
    return f'container "{container}" in pod "{name}" is waiting to start: {reason}'


def require_running(pod: dict[str, Any], container: str) -> dict[str, Any]:
    """The container's status if it runs now; otherwise the 400 the kubelet gives.

    A pod without container statuses counts as running when its phase is Running (pods
    created directly in a test store carry no statuses)."""
    name = pod.get("metadata", {}).get("name", "")
    phase = pod.get("status", {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}")
    cs = container_status(pod, container)
    if cs is None:
        if phase == "Running":
            return {"name": container, "state": {"running": {}}, "restartCount": 0}
        raise bad_request(waiting_message(pod, container, None))
    state = cs.get("state") or {}
    if "running" in state:
        return cs
    if "terminated" in state:
        raise bad_request(f'container "{container}" in pod "{name}" is terminated')
    raise bad_request(waiting_message(pod, container, (state.get("waiting") or {}).get("reason")))
