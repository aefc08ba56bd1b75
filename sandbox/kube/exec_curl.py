"""``curl`` as found inside an MCP-server pod, answering from :mod:`mcp_endpoints`.

Only what the runbook and a sensible operator use is emulated, but that part behaves like
curl 8: ``-f`` turns an HTTP error into exit 22 with "The requested URL returned error",
``-s`` hides errors unless ``-S``, ``-o /dev/null`` drops the body, ``-w`` expands
``%{http_code}``, ``%{time_total}`` and friends (``@file`` and ``@-`` too), ``-i``/``-I``
print headers, and without ``-s`` the progress meter goes to stderr because stdout is
not a terminal. Anything but localhost:8080 cannot be reached from the emulated pod.

Who answers the request is a *transport* (:data:`CurlTransport`): by default
:func:`canned_transport` (the emulated server of ``mcp_endpoints.py`` with synthetic
timings); the sandbox plugs in one that makes a real HTTP request to its MCP-server
simulator (``sandbox/service_exec.py``). Option parsing, ``-f``/``-s``/``-S``/
``-o``/``-w``/``-i`` and the messages stay here, the same for every transport.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import SplitResult, urlsplit

from .exec_handlers import ExecContext
from .mcp_endpoints import HttpReply, http_get

_WITH_ARGUMENT = {"o": "output", "w": "write-out", "X": "request", "H": "header",
                  "m": "max-time", "d": "data", "u": "user", "A": "user-agent", "e": "referer"}
_LONG_WITH_ARGUMENT = set(_WITH_ARGUMENT.values()) | {"connect-timeout", "retry", "data-raw",
                                                      "data-binary", "cacert", "resolve"}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class CurlUsageError(Exception):
    pass


class CurlTransportError(Exception):
    """The request did not get an answer: curl's exit ``code`` and its message
    (7 could not connect, 28 timed out, 52 empty reply, 56 failure receiving ...)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class CurlRequest:
    """What curl sends: ``url`` as typed (scheme added), ``path`` with its query."""

    method: str
    url: str
    path: str
    parts: SplitResult
    max_time: float | None = None


@dataclass
class CurlAnswer:
    """The transport's answer and curl's timings for it (``time_total`` and friends,
    in seconds, as ``-w`` shows them)."""

    reply: HttpReply
    timings: dict[str, float] = field(default_factory=dict)


CurlTransport = Callable[[ExecContext, CurlRequest], Awaitable[CurlAnswer]]


def parse_args(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """curl's options as ``{long name: value or True}`` and the URLs."""
    options: dict[str, str | bool] = {}
    urls: list[str] = []
    short_flags = {"f": "fail", "s": "silent", "S": "show-error", "i": "include", "I": "head",
                   "L": "location", "v": "verbose", "k": "insecure", "q": "disable", "N": "no-buffer"}
    it = iter(args)
    for arg in it:
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            if name in _LONG_WITH_ARGUMENT:
                options[name] = value if eq else next(it, "")
            else:
                options[name] = True
        elif arg.startswith("-") and len(arg) > 1:
            group = arg[1:]
            for i, ch in enumerate(group):
                if ch in _WITH_ARGUMENT:
                    options[_WITH_ARGUMENT[ch]] = group[i + 1:] or next(it, "")
                    break
                if ch not in short_flags:
                    raise CurlUsageError(f"curl: option -{ch}: is unknown")
                options[short_flags[ch]] = True
        else:
            urls.append(arg)
    return options, urls


def _canned_timings(ctx: ExecContext, reply: HttpReply, path: str) -> dict[str, float]:
    seed = hashlib.sha256(f"{ctx.pod_name}{path}{ctx.cluster.clock.now():.0f}".encode()).digest()
    base = 0.002 + seed[0] / 255 * 0.012
    if reply.status == 503 and b"timeout" in reply.body:
        base += 5.0
    lookup = 0.000020 + seed[1] / 255 * 0.00004
    connect = lookup + 0.00008 + seed[2] / 255 * 0.0001
    return {"time_namelookup": lookup, "time_connect": connect, "time_appconnect": 0.0,
            "time_pretransfer": connect + 0.00003, "time_redirect": 0.0,
            "time_starttransfer": base - 0.0002, "time_total": base}


async def canned_transport(ctx: ExecContext, request: CurlRequest) -> CurlAnswer:
    """The emulator's own answer (``mcp_endpoints.http_get``), with synthetic timings."""
    if request.method in ("GET", "HEAD"):
        reply = http_get(ctx.cluster, ctx.pod, request.path)
    else:
        reply = HttpReply(405, b'{"detail":"Method Not Allowed"}\n',
                          {"content-type": "application/json"})
    return CurlAnswer(reply, _canned_timings(ctx, reply, request.parts.path or "/"))


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def write_out(fmt: str, values: dict[str, object]) -> str:
    """Expand a ``-w`` format the way curl does (unknown variables expand to nothing)."""
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")

    def expand(m: re.Match[str]) -> str:
        value = values.get(m.group(1), "")
        return f"{value:.6f}" if isinstance(value, float) else str(value)

    return re.sub(r"%\{([a-z_]+)\}", expand, fmt).replace("%%", "%")


def _progress_meter(size: int, seconds: float) -> str:
    speed = int(size / seconds) if seconds else 0
    return ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            f"\r100 {size:5d}  100 {size:5d}    0     0 {speed:6d}      0 --:--:-- --:--:-- "
            f"--:--:-- {speed:6d}\n")


async def run_curl(ctx: ExecContext, read_file: Callable[[str], bytes | None],
                   transport: CurlTransport = canned_transport) -> int:
    """curl's command line in ``ctx``; ``read_file`` reads a file of the pod (for
    ``-w @file``), ``transport`` answers the request."""
    try:
        options, urls = parse_args(ctx.command[1:])
    except CurlUsageError as exc:
        await ctx.stderr.write(f"{exc}\ncurl: try 'curl --help' for more information\n")
        return 2
    if not urls:
        await ctx.stderr.write("curl: no URL specified\ncurl: try 'curl --help' for more information\n")
        return 2
    silent, show_error = bool(options.get("silent")), bool(options.get("show-error"))

    async def fail(code: int, message: str) -> int:
        if not silent or show_error:
            await ctx.stderr.write(f"curl: ({code}) {message}\n")
        return code

    url = urls[0] if "://" in urls[0] else "http://" + urls[0]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return await fail(1, f'Protocol "{parts.scheme}" not supported')
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if host not in _LOCAL_HOSTS:
        return await fail(6, f"Could not resolve host: {host}")
    if port != 8080 or parts.scheme == "https":
        return await fail(7, f"Failed to connect to {host} port {port} after 0 ms: "
                             "Couldn't connect to server")
    method = str(options.get("request") or ("HEAD" if options.get("head") else
                                            "POST" if "data" in options else "GET"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    max_time = options.get("max-time")
    try:
        max_seconds = float(max_time) if isinstance(max_time, str) and max_time else None
    except ValueError:
        await ctx.stderr.write("curl: option --max-time: expected a proper numerical "
                               "parameter\ncurl: try 'curl --help' for more information\n")
        return 2
    try:
        answer = await transport(ctx, CurlRequest(method, url, path, parts, max_seconds))
    except CurlTransportError as exc:
        return await fail(exc.code, exc.message)
    reply, timings = answer.reply, answer.timings
    header_text = f"HTTP/1.1 {reply.status} {reason_phrase(reply.status)}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in {**reply.headers, "content-length": str(len(reply.body)),
                                     "server": "uvicorn"}.items()) + "\r\n"
    failed = bool(options.get("fail")) and reply.status >= 400
    output = b""
    if options.get("head"):
        output = header_text.encode()
    elif not failed:
        output = (header_text.encode() if options.get("include") else b"") + reply.body
    if options.get("output") not in (None, "-"):
        output = b""  # written to a file inside the pod (discarded here)
    total = timings.get("time_total", 0.0)
    if not silent:
        await ctx.stderr.write(_progress_meter(len(reply.body), total))
    await ctx.stdout.write(output)
    exit_code = 22 if failed else 0
    fmt = options.get("write-out")
    if isinstance(fmt, str) and fmt:
        if fmt.startswith("@"):
            raw = await ctx.stdin.read() if fmt == "@-" else read_file(fmt[1:])
            if raw is None:
                await ctx.stderr.write(f"Warning: Failed to read {fmt[1:]}\n")
            fmt = (raw or b"").decode(errors="replace")
        values: dict[str, object] = {
            "http_code": f"{reply.status:03d}", "response_code": reply.status,
            "size_download": len(reply.body), "size_header": len(header_text),
            "size_request": 80 + len(path), "url_effective": url, "url": url,
            "content_type": reply.headers.get("content-type", ""), "num_connects": 1,
            "remote_ip": "127.0.0.1", "remote_port": 8080, "method": method,
            "scheme": parts.scheme.upper(), "exitcode": exit_code,
            "speed_download": f"{int(len(reply.body) / total) if total else 0}", **timings}
        await ctx.stdout.write(write_out(fmt, values))
    if failed:
        return await fail(22, f"The requested URL returned error: {reply.status}")
    return 0
