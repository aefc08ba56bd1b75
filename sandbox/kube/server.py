"""The emulator's HTTP API server (aiohttp): discovery, resources, watch, subresources.

Requests pass three middlewares — errors (every failure leaves as a ``Status`` object),
faults (latency, errors, hangs, dropped connections injected at run time), and
authentication/authorization (bearer token -> user -> rules, impersonation headers) —
then reach one dispatcher that parses the path (:mod:`routing`) and calls the verb's
handler. Pod ``/log`` and ``/exec`` are served by :mod:`logs` and :mod:`exec`.

Start it in-process with :func:`start_server` (port 0 picks a free port), or from the
command line with ``python -m sandbox.kube``. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from aiohttp import web

from . import discovery, handlers, kubelet, openapi, subresources, watch
from . import exec as pod_exec
from . import logs as pod_logs
from .admin import admin_routes
from .auth import ADMIN_TOKEN, Authorizer, User
from .cluster import Cluster
from .context import CTX, USER, ApiContext
from .faults import Faults
from .kubeconfig import write_kubeconfig
from .routing import RequestInfo, not_found_path, parse
from .store import ApiError
from .tls import loopback_certificate
from .wire import error_response, respond

log = logging.getLogger(__name__)

_REVIEW_GROUPS = {"authorization.k8s.io", "authentication.k8s.io"}
NODE_PROXY = re.compile(r"^/api/v1/nodes/([^/]+)/proxy(/.*)?$")


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err)
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # noqa: BLE001 - a server answers, it does not crash
        log.exception("internal error serving %s %s", request.method, request.path)
        return error_response(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))


@web.middleware
async def _faults(request: web.Request, handler):
    ctx = request.app[CTX]
    fault = None if request.path.startswith("/_emulator/") else ctx.faults.match(request.method, request.path)
    if fault is None:
        return await handler(request)
    if fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.drop:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never sent: the connection is gone
    if fault.hang:
        await ctx.faults.hang(lambda: request.transport is None or request.transport.is_closing())
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=500)  # the client gave up; nothing to send
    if fault.status:
        return respond(fault.status_body(), fault.status)
    return await handler(request)


@web.middleware
async def _authenticate(request: web.Request, handler):
    ctx = request.app[CTX]
    caller = ctx.authorizer.authenticate(request.headers.get("Authorization"))
    user = ctx.authorizer.impersonate(
        caller, request.headers.get("Impersonate-User"), request.headers.getall("Impersonate-Group", [])
    )
    request[USER] = user
    return await handler(request)


def _require_path(ctx: ApiContext, user: User, path: str) -> None:
    if not ctx.authorizer.allowed_path(user, "get", path):
        raise ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot get path "{path}"')


def _discovery(ctx: ApiContext, request: web.Request, parts: list[str]) -> web.Response | None:
    """The discovery document for /api, /api/v1, /apis, /apis/{g}, /apis/{g}/{v}, or None."""
    accept = request.headers.get("Accept", "")
    if parts == ["api"] or parts == ["apis"]:
        version = discovery.wants_aggregated(accept)
        if version:
            body = discovery.aggregated(version, legacy_core=parts == ["api"])
            return respond(body, content_type=discovery.aggregated_content_type(version))
        if parts == ["api"]:
            return respond(discovery.api_versions(ctx.server_address))
        return respond(discovery.api_group_list())
    if parts[0] == "api" and len(parts) == 2:
        body = discovery.api_resource_list("", parts[1])
    elif parts[0] == "apis" and len(parts) == 2:
        body = discovery.api_group(parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        body = discovery.api_resource_list(parts[1], parts[2])
    else:
        return None
    if body is None:
        raise not_found_path()
    return respond(body)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    user: User = request[USER]
    parts = [p for p in request.path.split("/") if p]
    if parts and parts[0] in ("api", "apis") and request.method == "GET":
        if (response := _discovery(ctx, request, parts)) is not None:
            _require_path(ctx, user, request.path)
            return response
    proxied = NODE_PROXY.match(request.path)
    if proxied and request.method == "GET":
        node, path = proxied.group(1), proxied.group(2) or "/"
        ctx.authorizer.require(user, "get", "", "nodes", "proxy", node, "")
        return await kubelet.handle_proxy(request, ctx.cluster, node, path)
    info = parse(request.method, request.path, request.query)
    verb = "create" if info.subresource == "exec" else info.verb
    ctx.authorizer.require(user, verb, info.rt.group, info.rt.plural, info.subresource,
                           info.name, info.namespace)
    return await _serve(ctx, request, info, user)


async def _serve(ctx: ApiContext, request: web.Request, info: RequestInfo, user: User) -> web.StreamResponse:
    sub = info.subresource
    if sub == "log":
        return await pod_logs.handle_log(request, ctx.cluster, info.namespace, info.name)
    if sub == "exec":
        return await pod_exec.handle_exec(request, ctx.cluster, info.namespace, info.name)
    if sub == "eviction":
        return await subresources.evict(ctx, request, info)
    if sub == "scale":
        return await subresources.scale(ctx, request, info)
    if info.rt.group in _REVIEW_GROUPS:
        return await subresources.review(ctx, request, info, user)
    if info.verb == "watch":
        return await watch.serve_watch(ctx, request, info)
    if info.verb == "list":
        return handlers.list_objects(ctx, request, info)
    if info.verb == "get":
        return handlers.get_object(ctx, request, info)
    if info.verb == "create":
        return await handlers.create(ctx, request, info)
    if info.verb == "update":
        return await handlers.update(ctx, request, info)
    if info.verb == "patch":
        return await handlers.patch_object(ctx, request, info)
    if info.verb == "delete":
        return await handlers.delete(ctx, request, info)
    return await handlers.delete_collection(ctx, request, info)


async def _version(request: web.Request) -> web.Response:
    return respond(discovery.version_info(request.app[CTX].minor))


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _openapi_v3(request: web.Request) -> web.Response:
    _require_path(request.app[CTX], request[USER], request.path)
    doc = openapi.lookup(request.match_info["tail"], request.app[CTX].minor)
    if doc is None:
        raise not_found_path()
    return respond(doc)


async def _openapi_v2(request: web.Request) -> web.Response:
    _require_path(request.app[CTX], request[USER], request.path)
    body = openapi.v2_document(request.app[CTX].minor)
    return web.Response(body=body, headers={"Content-Type": openapi.V2_CONTENT_TYPE})


def build_app(ctx: ApiContext) -> web.Application:
    app = web.Application(middlewares=[_errors, _faults, _authenticate], client_max_size=64 << 20)
    app[CTX] = ctx
    app.router.add_get("/version", _version)
    for path in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(path, _health)
    app.router.add_get("/openapi/v3{tail:.*}", _openapi_v3)
    app.router.add_get("/openapi/v2", _openapi_v2)
    admin_routes(app, CTX)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app


@dataclass
class RunningServer:
    """A started API server: ``url`` to put in a kubeconfig, ``stop()`` to end it."""

    ctx: ApiContext
    runner: web.AppRunner
    host: str
    port: int
    ca_data: str | None = None  # base64 PEM of the server certificate; None when plain http

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_data else 'http'}://{self.host}:{self.port}"

    def write_kubeconfig(self, path, token: str = ADMIN_TOKEN, context: str = "sandbox",
                         namespace: str = "mcp-production"):
        return write_kubeconfig(path, self.url, token, context, namespace, ca_data=self.ca_data)

    @property
    def cluster(self) -> Cluster:
        return self.ctx.cluster

    @property
    def faults(self) -> Faults:
        return self.ctx.faults

    async def stop(self) -> None:
        self.ctx.stopping = True
        self.ctx.faults.released.set()
        self.ctx.store.close_watches()
        await self.runner.cleanup()


def _authorizer(tokens: dict[str, User] | Authorizer | None) -> Authorizer:
    if isinstance(tokens, Authorizer):
        return tokens
    authorizer = Authorizer.default()
    if tokens is not None:
        authorizer.tokens = dict(tokens)
    return authorizer


async def start_server(cluster: Cluster, host: str = "127.0.0.1", port: int = 0,
                       tokens: dict[str, User] | Authorizer | None = None, *,
                       minor: int = 31, bookmark_interval: float = 10.0,
                       tls: bool = True) -> RunningServer:
    """Serve ``cluster`` on ``host:port`` (0 = any free port). ``tokens`` maps bearer tokens
    to users (default: ADMIN_TOKEN -> everything, READONLY_TOKEN -> get/list/watch).
    ``tls`` serves HTTPS with a self-signed certificate: kubectl sends bearer tokens over
    TLS only. ``minor`` is the Kubernetes 1.x version reported (the kubectl dispatcher picks
    its client by it)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the emulator binds the loopback interface only")
    faults = cluster.extras.setdefault("faults", Faults())
    ctx = ApiContext(cluster, _authorizer(tokens), faults, minor=minor,
                     bookmark_interval=bookmark_interval)
    runner = web.AppRunner(build_app(ctx), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    cert = loopback_certificate() if tls else None
    site = web.TCPSite(runner, host, port, ssl_context=cert.server_context() if cert else None)
    await site.start()
    bound = runner.addresses[0][1]
    ctx.server_address = f"{host}:{bound}"
    cluster.extras["api_server"] = ctx
    return RunningServer(ctx, runner, host, bound, cert.ca_data if cert else None)
