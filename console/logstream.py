"""Pod logs for the log viewer: a follow stream, the runbook's filter presets, and a
bounded buffer.

The presets are the guide's ``grep`` lines, so an operator can check what a filter does
against the runbook: ``grep -i error``, ``grep -i "auth\\|unauthorized\\|forbidden"``,
``grep -i "slow\\|timeout"`` and ``grep -E "(ERROR|WARN|Exception)"``. The buffer keeps the
last ``cap`` lines whatever the filter, so changing the filter re-reads what was already
received instead of asking the cluster again.

Every line is redacted here, before anything can show it: an application that logs a DSN
with its password, a token or a configured secret must not put it on an operator's screen
(or a shared tmux). :func:`open_pod_log` is what the log viewer consumes — a stream object
that owns its Kubernetes source and masks lines with the same redactor the executor uses
for the configuration — so the screen never builds a client of its own.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from console.execution.redaction import Redactor, redactor_for
from console.sources.kube import KubeSource


@dataclass(frozen=True)
class LogPreset:
    key: str  # the key that selects it in the viewer
    name: str
    pattern: re.Pattern | None
    grep: str  # the runbook's equivalent

    def matches(self, line: str) -> bool:
        return self.pattern is None or bool(self.pattern.search(line))


PRESETS = (
    LogPreset("1", "all", None, "(no filter)"),
    LogPreset("2", "errors", re.compile("error", re.I), 'grep -i error'),
    LogPreset("3", "auth", re.compile("auth|unauthorized|forbidden", re.I),
              'grep -i "auth\\|unauthorized\\|forbidden"'),
    LogPreset("4", "slow", re.compile("slow|timeout", re.I), 'grep -i "slow\\|timeout"'),
    LogPreset("5", "levels", re.compile("ERROR|WARN|Exception"), 'grep -E "(ERROR|WARN|Exception)"'),
)


class LogBuffer:
    """The last ``cap`` lines received, and how many were dropped to stay within it."""

    def __init__(self, cap: int = 5000) -> None:
        self.lines: deque[str] = deque(maxlen=cap)
        self.received = 0

    @property
    def dropped(self) -> int:
        return self.received - len(self.lines)

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.received += 1

    def view(self, preset: LogPreset) -> list[str]:
        return [line for line in self.lines if preset.matches(line)]


async def pod_log(source: KubeSource, pod: str, *, container: str | None = None,
                  tail: int = 200, follow: bool = True,
                  redactor: Redactor | None = None) -> AsyncIterator[str]:
    """The pod's log lines, redacted: the last ``tail``, then (``follow``) new ones as they
    come. Without a ``redactor`` the secret *shapes* are still masked (DSN passwords,
    tokens, keys); pass the configuration's (:func:`redactor_for`) to mask known values too.
    A quiet log is not a dead one, so there is no read timeout while following."""
    redact = (redactor or Redactor()).text
    path = f"/api/v1/namespaces/{source.namespace}/pods/{pod}/log"
    async for line in source.lines(path, read_timeout=None, follow=follow, tailLines=tail,
                                   container=container):
        yield redact(line)


class PodLogStream:
    """One pod's redacted log as an async iterator, with the source it owns; ``aclose()``
    ends the stream and closes the connection."""

    def __init__(self, source: KubeSource, pod: str, *, container: str | None, tail: int,
                 follow: bool, redactor: Redactor):
        self._source = source
        self.pod = pod
        self.container = container
        self._lines = pod_log(source, pod, container=container, tail=tail, follow=follow,
                              redactor=redactor)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines

    async def aclose(self) -> None:
        try:
            await self._lines.aclose()  # type: ignore[attr-defined]  # an async generator
        finally:
            await self._source.close()


def open_pod_log(config: Any, env: Any, pod: str, *, container: str | None = None,
                 tail: int = 200, follow: bool = True) -> PodLogStream:
    """The log of ``pod`` in environment ``env`` (its namespace; its configured container by
    default), masked with every secret ``config`` points at. Nothing connects until the
    stream is iterated."""
    return PodLogStream(KubeSource(env.kubernetes), pod,
                        container=container or env.kubernetes.container, tail=tail,
                        follow=follow, redactor=redactor_for(config))
