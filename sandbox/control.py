"""The sandbox's control API: which scenario is on, and switching to another one.

It is what the console's sandbox menu, the tests and scripts use to change a running
sandbox (the sandbox may be another process). It listens on 127.0.0.1 and a free port
and wants the bearer token written next to the config (``<config>.sandbox.json``), so
another user of the machine cannot switch someone's sandbox into a region failure.

- ``GET  /v1/status``    the current scenario and every scenario with its description;
- ``POST /v1/scenario``  ``{"name": "crashloop"}``: undo the current one, apply that one;
- ``POST /v1/fault``     ``{"name": "rds-promotion-refused", "on": true}``: a fault a
  failover can meet (``dr_region.FAULTS``), beside the scenario.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from . import scenarios
from .local_http import serve_local
from .local_process import LOCALHOST

if TYPE_CHECKING:
    from .platform import Sandbox


def _scenario_list() -> list[dict[str, str]]:
    return [{"name": s.name, "title": s.title, "description": s.description,
             "expect_status": s.expect_status} for s in scenarios.SCENARIOS.values()]


class ControlServer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.add_routes([web.get("/v1/status", self._status),
                        web.post("/v1/scenario", self._switch),
                        web.post("/v1/fault", self._fault)])
        self._runner, self.port = await serve_local(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if not secrets.compare_digest(request.headers.get("Authorization", ""),
                                      f"Bearer {self.token}"):
            return web.json_response({"error": "a valid bearer token is needed"}, status=401)
        return await handler(request)

    def _state(self) -> dict[str, Any]:
        from .dr_region import FAULTS, faults_on

        return {"scenario": self.sandbox.scenario, "scenarios": _scenario_list(),
                "faults": faults_on(self.sandbox), "known_faults": FAULTS}

    async def _fault(self, request: web.Request) -> web.Response:
        from .dr_region import set_fault

        try:
            body = await request.json()
            set_fault(self.sandbox, str(body["name"]), bool(body.get("on", True)))
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc).strip("'\"") or
                                      "need {\"name\": ..., \"on\": true}", **self._state()},
                                     status=400)
        return web.json_response(self._state())

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self._state())

    async def _switch(self, request: web.Request) -> web.Response:
        try:
            name = str((await request.json())["name"])
            scenarios.get(name)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc).strip("'\"") or "need {\"name\": ...}",
                                      **self._state()}, status=400)
        try:
            await self.sandbox.switch(name)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, sandbox stays up
            return web.json_response({"error": f"{type(exc).__name__}: {exc}", **self._state()},
                                     status=500)
        return web.json_response(self._state())


@dataclass(frozen=True)
class ControlAddress:
    url: str
    token: str

    @classmethod
    def from_sidecar(cls, config_path: str | Path) -> ControlAddress:
        """Read the address a sandbox wrote next to its config."""
        path = Path(str(config_path) + ".sandbox.json")
        info = json.loads(path.read_text())
        return cls(info["control_url"], info["control_token"])


class ControlClient:
    """Async client of the control API (the console's sandbox menu uses it)."""

    def __init__(self, address: ControlAddress, *, timeout: float = 60.0) -> None:
        self.address = address
        self._client = httpx.AsyncClient(
            base_url=address.url, timeout=timeout,
            headers={"Authorization": f"Bearer {address.token}"})

    async def status(self) -> dict[str, Any]:
        response = await self._client.get("/v1/status")
        response.raise_for_status()
        return response.json()

    async def switch(self, name: str) -> dict[str, Any]:
        """Switch the scenario; raises RuntimeError with the sandbox's reason on failure."""
        response = await self._client.post("/v1/scenario", json={"name": name})
        body = response.json()
        if response.status_code != 200:
            raise RuntimeError(body.get("error") or f"HTTP {response.status_code}")
        return body

    async def close(self) -> None:
        await self._client.aclose()


def switch_scenario(address: ControlAddress, name: str, *, timeout: float = 60.0) -> dict:
    """Blocking form of :meth:`ControlClient.switch`, for scripts and tests."""
    response = httpx.post(f"{address.url}/v1/scenario", json={"name": name}, timeout=timeout,
                          headers={"Authorization": f"Bearer {address.token}"})
    body = response.json()
    if response.status_code != 200:
        raise RuntimeError(body.get("error") or f"HTTP {response.status_code}")
    return body

