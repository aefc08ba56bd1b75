"""``/api/v1/namespaces/{ns}/pods/{name}/log``: a container's log, as the kubelet serves it.

The router calls :func:`handle_log` after authorisation. The lines come from the log book
(``log_book.py``) for the container *instance* the request means — the running one, or
with ``previous=true`` the one before the last restart — and are cut by ``sinceSeconds``
/ ``sinceTime``, ``tailLines`` and ``limitBytes``, optionally prefixed with the kubelet's
RFC 3339 timestamp (nine fixed fraction digits). ``follow=true`` keeps the chunked
response open and writes new lines as emulated time passes, until the client hangs up,
the pod is deleted or the container stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import pod_roles
from .log_book import Instance, log_book
from .pod_containers import bad_request, container_status, select_container, waiting_message
from .store import ApiError

FOLLOW_POLL_SECONDS = 0.2  # real seconds between looks for new lines while following


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def kubelet_timestamp(t: float) -> str:
    """RFC 3339 with nine fraction digits, as the kubelet prefixes log lines."""
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond:06d}{int(t * 1e9) % 1000:03d}Z"


def _invalid(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"PodLogOptions is invalid: {message}")


def _int_param(request: web.Request, key: str, minimum: int) -> int | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f'{key}: Invalid value: "{raw}": must be an integer') from None
    if value < minimum:
        raise _invalid(f"{key}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value


def resolve_instance(cluster: Any, pod: dict[str, Any], container: str, previous: bool) -> Instance:
    """The container run the request is about, or the kubelet's 400 when there is none."""
    meta = pod["metadata"]
    name, namespace = meta["name"], meta.get("namespace", "")
    cs = container_status(pod, container) or {}
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    restarts = int(cs.get("restartCount", 0))
    created = parse_time(pod.get("status", {}).get("startTime")) or parse_time(
        meta.get("creationTimestamp")) or cluster.clock.now()
    running_since = parse_time((state.get("running") or {}).get("startedAt"))
    key = f"{namespace}/{name}/{container}"
    seed = f"{key}/{meta.get('uid', '')}"
    role = pod_roles.pod_role(pod, container)

    def terminated(term: dict[str, Any], run: int) -> Instance:
        end = parse_time(term.get("finishedAt")) or running_since or cluster.clock.now()
        start = parse_time(term.get("startedAt")) or max(created, end - 3600)
        return Instance(key, f"{seed}/{run}", role, start, end, term.get("reason") or "Error")

    if previous:
        if not last:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return terminated(last, max(restarts - 1, 0))
    if "running" in state or (not cs and pod.get("status", {}).get("phase") == "Running"):
        return Instance(key, f"{seed}/{restarts}", role, running_since or created)
    if "terminated" in state:
        return terminated(state["terminated"], restarts)
    if last:  # waiting to restart (CrashLoopBackOff): the last run's log, as the kubelet does
        return terminated(last, max(restarts - 1, 0))
    raise bad_request(waiting_message(pod, container, (state.get("waiting") or {}).get("reason")))


def _render(lines: list[tuple[float, str]], timestamps: bool) -> bytes:
    if timestamps:
        return "".join(f"{kubelet_timestamp(t)} {text}\n" for t, text in lines).encode()
    return "".join(f"{text}\n" for _, text in lines).encode()


async def handle_log(request: web.Request, cluster, namespace: str, name: str) -> web.StreamResponse:
    try:
        pod = cluster.store.get("pods", namespace, name)
        q = request.query
        container = select_container(pod, q.get("container"))
        previous = q.get("previous", "false").lower() in ("true", "1")
        follow = q.get("follow", "false").lower() in ("true", "1")
        timestamps = q.get("timestamps", "false").lower() in ("true", "1")
        since_seconds = _int_param(request, "sinceSeconds", 1)
        tail = _int_param(request, "tailLines", 0)
        limit = _int_param(request, "limitBytes", 1)
        try:
            since_time = parse_time(q.get("sinceTime"))
        except ValueError:
            raise bad_request(f'sinceTime: Invalid value: "{q.get("sinceTime")}"') from None
        if since_seconds is not None and since_time is not None:
            raise _invalid("sinceSeconds: Forbidden: at most one of `sinceTime` or "
                           "`sinceSeconds` may be specified")
        inst = resolve_instance(cluster, pod, container, previous)
    except ApiError as err:
        return web.json_response(err.status(), status=err.code)

    book = log_book(cluster)
    now = cluster.clock.now()
    start = inst.start
    if since_seconds is not None:
        start = max(start, now - since_seconds)
    elif since_time is not None:
        start = max(start, since_time)
    lines = book.tail(inst, start, now, tail) if tail is not None else book.lines(inst, start, now)
    body = _render(lines, timestamps)
    if limit is not None:
        body = body[:limit]
    if not follow or inst.end is not None or (limit is not None and len(body) >= limit):
        return web.Response(body=body, content_type="text/plain")

    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    sent = len(body)
    try:
        if body:
            await response.write(body)
        await _Follower(request, response, cluster, pod, inst, now, timestamps, limit, sent).run()
        if request.transport is not None and not request.transport.is_closing():
            await response.write_eof()
    except ConnectionResetError:  # the client hung up: that is how `logs -f` usually ends
        pass
    return response


@dataclass
class _Follower:
    """Writes the lines that appear after ``since`` until the client leaves, the pod goes
    away (or is replaced under the same name) or this container run ends — in which case
    its last lines, up to the termination, are written first. It wakes every poll
    interval, or at once when a line is appended to the book."""

    request: web.Request
    response: web.StreamResponse
    cluster: Any
    pod: dict[str, Any]
    inst: Instance
    since: float
    timestamps: bool
    limit: int | None
    sent: int

    async def run(self) -> None:
        book = log_book(self.cluster)
        wake = book.listener()
        try:
            while not await self._step(book):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), FOLLOW_POLL_SECONDS)
                wake.clear()
        finally:
            book.forget(wake)

    def _run_has_ended(self) -> bool:
        meta = self.pod["metadata"]
        current = self.cluster.store.peek("pods", meta.get("namespace", ""), meta["name"])
        if current is None or current["metadata"].get("uid") != meta.get("uid"):
            return True
        try:
            latest = resolve_instance(self.cluster, current, self.inst.key.rsplit("/", 1)[1], False)
        except ApiError:
            return True
        if latest.seed != self.inst.seed:
            return True  # restarted: this run's log is complete
        if latest.end is not None:
            self.inst = latest  # terminated: write up to its end, then stop
            return True
        return False

    async def _step(self, book) -> bool:
        """Write what is new; True when following is over."""
        if self.request.transport is None or self.request.transport.is_closing():
            return True
        ended = self._run_has_ended()
        now = self.cluster.clock.now()
        chunk = _render(book.lines(self.inst, self.since, now), self.timestamps)
        self.since = now
        if self.limit is not None:
            chunk = chunk[: max(self.limit - self.sent, 0)]
        if chunk:
            await self.response.write(chunk)
            self.sent += len(chunk)
        return ended or (self.limit is not None and self.sent >= self.limit)
