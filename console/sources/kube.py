"""Read-only JSON access to one Kubernetes cluster.

GETs go straight through one aiohttp session when the kubeconfig is a usual one (a token,
a client certificate, a CA: :mod:`console.sources.kube_direct`), without importing
kubernetes-asyncio (~0.3 s of CPU, more than the rest of a first Pods snapshot); else,
and for the executors that ask :meth:`KubeSource.client`, through kubernetes-asyncio's
ApiClient. The typed models of the generated client are skipped on purpose: the collectors read a
handful of fields from many objects, and deserialising every pod into model classes on
every event costs more than the whole refresh. Requests go through ``ApiClient.call_api``
(so kubeconfig auth, TLS and exec plugins work as in kubectl) with ``_preload_content``
off, and the JSON is read here.

Only GET is offered, and the POST of a self-review (:meth:`KubeSource.ask`: "what may I
do?", which the API answers without storing anything). Anything that changes the cluster
belongs to the executor.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

from console.config.model import KubernetesSettings

from .kube_direct import Endpoint, read_endpoint


class KubeError(Exception):
    """The API answered with an error status (``status``), or could not be reached (0)."""

    self_describing = True

    def __init__(self, status: int, message: str, causes: tuple[str, ...] = ()):
        self.status = status
        self.message = message
        self.causes = causes  # the Status's details.causes messages (e.g. a PDB's refusal)
        super().__init__(f"HTTP {status}: {message}" if status else message)


def kubeconfig_path(settings: KubernetesSettings) -> str:
    """The kubeconfig file: the configured one, else $KUBECONFIG (its first entry), else
    ~/.kube/config. Read at call time, so a test's KUBECONFIG is honoured."""
    if settings.kubeconfig:
        return str(Path(settings.kubeconfig).expanduser())
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return str(Path(first or "~/.kube/config").expanduser())


class KubeSource:
    """One cluster's API, opened lazily. ``timeout`` bounds each request; streams (watch,
    logs) get a read timeout instead, so a quiet stream is not cut but a dead one is.
    Every failure — an error status, a refused connection, a timeout — is a
    :class:`KubeError`."""

    def __init__(self, settings: KubernetesSettings, *, timeout: float | None = None) -> None:
        self.settings = settings
        self.timeout = timeout or settings.request_timeout
        self._client: ApiClient | None = None
        self._client_lock = asyncio.Lock()
        self._direct: tuple[aiohttp.ClientSession, Endpoint] | None = None
        self._direct_read = False  # the kubeconfig was read for it (None: not usable)
        self._direct_lock = asyncio.Lock()

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    async def client(self) -> ApiClient:
        if self._client is None:
            async with self._client_lock:  # the collectors sharing this source ask at once
                if self._client is None:
                    # kubernetes-asyncio takes ~0.5 s to import (its generated models): in a
                    # thread, so the first frame is painted without it and no key waits
                    new_client_from_config = await asyncio.to_thread(_client_factory)
                    self._client = await new_client_from_config(
                        config_file=kubeconfig_path(self.settings),
                        context=self.settings.context, persist_config=False,
                    )
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        direct, self._direct, self._direct_read = self._direct, None, False
        if client is not None:
            await client.close()
        if direct is not None:
            await direct[0].close()

    async def _direct_session(self) -> tuple[aiohttp.ClientSession, Endpoint] | None:
        """The session for GETs without kubernetes-asyncio, or None when the kubeconfig
        needs it. The kubeconfig is read and the SSL context built once, in a thread
        (file reads, certificate loading), so the event loop never waits for them."""
        if not self._direct_read:
            async with self._direct_lock:
                if not self._direct_read:
                    endpoint = await asyncio.to_thread(
                        read_endpoint, kubeconfig_path(self.settings), self.settings.context)
                    self._direct = None if endpoint is None else (aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=100, ssl=endpoint.ssl_context
                                                       or True),
                        headers=endpoint.headers,
                        read_bufsize=2**21,  # a watch event may be a large object
                    ), endpoint)
                    self._direct_read = True
        return self._direct

    async def _open(self, path: str, params: dict[str, Any],
                    timeout: float | aiohttp.ClientTimeout, *,
                    review: dict | None = None) -> aiohttp.ClientResponse:
        query = [(k, v if not isinstance(v, bool) else str(v).lower())
                 for k, v in params.items() if v is not None]
        headers = {"Accept": "application/json"}
        method = "GET" if review is None else "POST"
        try:
            direct = await self._direct_session()
            if direct is not None:
                session, endpoint = direct
                url = endpoint.host + path + ("?" + urlencode(query) if query else "")
                response = await session.request(
                    method, url, headers=headers, json=review, proxy=endpoint.proxy,
                    proxy_auth=endpoint.proxy_auth, server_hostname=endpoint.server_hostname,
                    timeout=timeout if isinstance(timeout, aiohttp.ClientTimeout)
                    else aiohttp.ClientTimeout(total=timeout or None))
            else:
                client = await self.client()
                response = await client.call_api(
                    path, method, query_params=query, header_params=headers, body=review,
                    auth_settings=["BearerToken"], _preload_content=False,
                    _request_timeout=timeout,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc, path, method) from exc
        if not 200 <= response.status <= 299:
            body = await response.text()
            response.release()
            raise status_error(response.status, body)
        return response

    async def get(self, path: str, **params: Any) -> dict:
        """GET ``path`` (e.g. ``/api/v1/namespaces/x/pods``) and return its JSON."""
        return json.loads(await self._read(path, params))

    async def get_text(self, path: str, **params: Any) -> str:
        """GET ``path`` as text (a pod's log)."""
        return (await self._read(path, params)).decode("utf-8", errors="replace")

    async def ask(self, path: str, review: dict) -> dict:
        """POST a self-review (``SelfSubjectRulesReview``, ``SelfSubjectAccessReview``) to
        ``path`` and return the answered object: a question about the caller's own rights,
        which the API server answers without storing anything."""
        if not str(review.get("kind", "")).startswith("SelfSubject"):
            raise ValueError(f"only self-reviews are asked here, not {review.get('kind')!r}")
        return json.loads(await self._read(path, {}, review=review))

    async def _read(self, path: str, params: dict[str, Any], *,
                    review: dict | None = None) -> bytes:
        response = await self._open(path, params, self.timeout, review=review)
        try:
            return await response.read()  # the total timeout covers the body too
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc, path, "GET" if review is None else "POST") from exc
        finally:
            response.release()

    async def lines(self, path: str, *, read_timeout: float | None = None,
                    **params: Any) -> AsyncIterator[str]:
        """The lines of a streaming GET (watch events, followed logs), as they arrive."""
        timeout = aiohttp.ClientTimeout(connect=self.timeout, sock_connect=self.timeout,
                                        sock_read=read_timeout)
        response = await self._open(path, params, timeout)
        try:
            async for raw in response.content:
                yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc, path) from exc
        finally:
            response.release()

    async def watch(self, path: str, resource_version: str, *, seconds: int = 240,
                    **params: Any) -> AsyncIterator[dict]:
        """Watch events from ``resource_version`` on; raises :class:`KubeError` 410 when the
        version is too old (the caller lists again). Ends when the server closes the
        stream after about ``seconds``."""
        async for line in self.lines(path, read_timeout=seconds + 30, watch=True,
                                     resourceVersion=resource_version, timeoutSeconds=seconds,
                                     allowWatchBookmarks=True, **params):
            if not line:
                continue
            event = json.loads(line)
            if event.get("type") == "ERROR":
                obj = event.get("object") or {}
                raise KubeError(int(obj.get("code") or 500), obj.get("message", "watch error"))
            yield event


def unreachable(exc: BaseException, path: str, method: str = "GET") -> KubeError:
    """A transport failure as a :class:`KubeError` (status 0). aiohttp's total timeout
    surfaces as a bare ``TimeoutError``, which callers that handle ``KubeError`` (an
    optional GET such as metrics.k8s.io) would otherwise let escape and lose everything
    else they read."""
    if isinstance(exc, TimeoutError):
        return KubeError(0, f"{method} {path}: no answer in time")
    return KubeError(0, f"{method} {path}: {str(exc) or type(exc).__name__}")


def status_error(status: int, body: str) -> KubeError:
    """A :class:`KubeError` from an error response: the Status's message and causes."""
    try:
        causes = tuple(str(c.get("message") or c.get("reason") or "")
                       for c in (json.loads(body).get("details") or {}).get("causes") or [])
    except (ValueError, AttributeError):
        causes = ()
    return KubeError(status, status_message(body), causes)


def status_message(body: str) -> str:
    """The ``message`` of a ``Status`` body, else the start of the body."""
    try:
        return json.loads(body).get("message") or body[:200]
    except (ValueError, AttributeError):
        return body[:200]


def _client_factory() -> Any:
    from kubernetes_asyncio.config import new_client_from_config

    return new_client_from_config
