"""What ``curl http://localhost:8080/...`` does when exec'd into a sandbox MCP-server pod:
a real HTTP request to the region's MCP-server simulator.

The emulator's own curl answers from canned endpoints (``kube/mcp_endpoints.py``), which
know nothing of the sandbox's scenarios. Here the pods' ``localhost:8080`` *is* the
simulator: the runbook's in-pod checks (``curl -f .../health/database``, ``curl -w
"@curl-format.txt" ...``) then report what the dashboard reports — a real PostgreSQL or
Redis outage as 503 and exit 22 under ``-f``, the ``slow-responses`` scenario as seconds
in ``%{time_total}``, the error rate in ``/metrics``. Option handling and output are
``kube/exec_curl.py``'s; only the transport is replaced. Other programs in the pods keep
the emulator's default handler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from .kube.exec_curl import CurlAnswer, CurlRequest, CurlTransport, CurlTransportError
from .kube.exec_default import curl_handler
from .kube.exec_handlers import ExecContext, register_exec_handler
from .kube.mcp_endpoints import HttpReply

DEFAULT_MAX_TIME = 60.0  # curl has none; a pod's exec should still end
MCP_POD_FILTERS = ({"labels": {"app": "mcp-server"}}, {"name_prefix": "mcp-server"})
_PASSED_HEADERS = ("content-type", "date", "cache-control")


def simulator_transport(base_url: Callable[[], str] | str) -> CurlTransport:
    """A curl transport that sends the request to the simulator at ``base_url`` (a
    callable is asked at every request) in place of ``http://localhost:8080``."""

    async def transport(ctx: ExecContext, request: CurlRequest) -> CurlAnswer:
        base = (base_url() if callable(base_url) else base_url).rstrip("/")
        marks: dict[str, float] = {}
        started = time.perf_counter()

        async def trace(event: str, info: dict[str, Any]) -> None:
            marks.setdefault(event, time.perf_counter() - started)

        limit = request.max_time or DEFAULT_MAX_TIME
        host = request.parts.hostname or "localhost"
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(limit), trust_env=False) as client:
                response = await client.request(request.method, base + request.path,
                                                extensions={"trace": trace})
                body = response.content
        except httpx.TimeoutException:
            spent = int((time.perf_counter() - started) * 1000)
            raise CurlTransportError(28, f"Operation timed out after {spent} milliseconds "
                                         "with 0 bytes received") from None
        except httpx.ConnectError:
            spent = int((time.perf_counter() - started) * 1000)
            raise CurlTransportError(7, f"Failed to connect to {host} port 8080 after "
                                        f"{spent} ms: Couldn't connect to server") from None
        except httpx.RemoteProtocolError:
            raise CurlTransportError(52, "Empty reply from server") from None
        except httpx.HTTPError as exc:
            raise CurlTransportError(56, f"Failure when receiving data from the peer: "
                                         f"{exc}") from None
        total = time.perf_counter() - started
        headers = {k: response.headers[k] for k in _PASSED_HEADERS if k in response.headers}
        return CurlAnswer(HttpReply(response.status_code, body, headers),
                          _timings(marks, total))

    return transport


def _timings(marks: dict[str, float], total: float) -> dict[str, float]:
    """curl's timing variables from httpx's trace events (a loopback address: no DNS)."""
    connect_start = marks.get("connection.connect_tcp.started", 0.0)
    connect = marks.get("connection.connect_tcp.complete", connect_start)
    pretransfer = marks.get("http11.send_request_headers.started", connect)
    first_byte = marks.get("http11.receive_response_headers.complete", total)
    return {"time_namelookup": connect_start, "time_connect": connect,
            "time_appconnect": 0.0, "time_pretransfer": pretransfer, "time_redirect": 0.0,
            "time_starttransfer": min(first_byte, total), "time_total": total}


def wire_service_exec(cluster: Any, base_url: Callable[[], str] | str) -> list[Callable[[], None]]:
    """Register, on ``cluster``'s MCP-server pods, a ``curl`` that asks the simulator at
    ``base_url``; returns the functions that remove the registrations again."""
    handler = curl_handler(simulator_transport(base_url))
    return [register_exec_handler(cluster, handler, commands={"curl"}, **filters)
            for filters in MCP_POD_FILTERS]
