"""A kubeconfig read without kubernetes-asyncio, for the read-only source's GETs.

Importing kubernetes-asyncio costs about 0.3 s of CPU (its generated API classes and
models), more than everything else in a first Pods snapshot, and the source needs none
of it to send a GET. The usual kubeconfigs are read here: a server, its CA (data or file)
or ``insecure-skip-tls-verify``, ``tls-server-name``, ``proxy-url``, and a bearer token
(``token`` or ``tokenFile``), a client certificate (data or file) or a user name and
password. One SSL context is built for them, once. Anything else, an ``exec`` plugin or an
``auth-provider`` (credentials that expire and are refreshed), or a file that cannot be
read as expected, gives ``None``: the source then goes through kubernetes-asyncio's
ApiClient as before, which also reports the kubeconfig's errors in its own words.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import BasicAuth
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

HANDLED_USER_KEYS = {"token", "tokenFile", "client-certificate", "client-certificate-data",
                     "client-key", "client-key-data", "username", "password"}


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send a request: ``host`` (``https://h:p``), the auth headers,
    the SSL context (None for http), the TLS server name, and the proxy: the
    kubeconfig's ``proxy-url``, else the environment's (``HTTPS_PROXY``, ``NO_PROXY``),
    looked up here once rather than by aiohttp's ``trust_env`` on every request (two
    thread hops each)."""

    host: str
    headers: dict[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None
    proxy: str | URL | None = None
    proxy_auth: BasicAuth | None = None


def read_endpoint(config_file: str, context: str | None = None) -> Endpoint | None:
    """The endpoint of ``context`` (else the current context) in ``config_file``, or None
    when the file needs kubernetes-asyncio (see the module's docstring). Blocking: file
    reads and certificate loading; call it off the event loop."""
    try:
        path = Path(config_file)
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return _endpoint(doc, context, path.parent.resolve())
    except (OSError, ValueError, TypeError, KeyError, AttributeError, StopIteration,
            yaml.YAMLError, ssl.SSLError):
        return None


def _named(doc: dict, section: str, name: Any) -> dict:
    return next(e[section.rstrip("s")] for e in doc[section] if e["name"] == name)


def _endpoint(doc: dict, context: str | None, base: Path) -> Endpoint | None:
    ctx = _named(doc, "contexts", context or doc["current-context"])
    cluster = _named(doc, "clusters", ctx["cluster"])
    user = _named(doc, "users", ctx["user"]) if ctx.get("user") else {}
    user = user or {}
    if not set(user) <= HANDLED_USER_KEYS:
        return None  # exec, auth-provider...: kubernetes-asyncio's
    host = str(cluster["server"]).rstrip("/")
    headers: dict[str, str] = {}
    token = _data(user, "token", base, b64=False) or b""
    if token.strip():
        headers["Authorization"] = f"Bearer {token.decode().strip()}"
    elif "username" in user and "password" in user:
        basic = f"{user['username']}:{user['password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
    context_ssl = _ssl_context(cluster, user, base) if host.startswith("https") else None
    proxy, proxy_auth = cluster.get("proxy-url"), None
    if not proxy:
        try:
            proxy, proxy_auth = get_env_proxy_for_url(URL(host))
        except LookupError:  # none set, or NO_PROXY names the host
            pass
    return Endpoint(host=host, headers=headers, ssl_context=context_ssl,
                    server_hostname=cluster.get("tls-server-name"), proxy=proxy,
                    proxy_auth=proxy_auth)


def _data(entry: dict, key: str, base: Path, *, b64: bool = True) -> bytes | None:
    """``key-data`` (base64, or plain text for a token) or the file named by ``key``
    (``tokenFile`` for the token), relative to the kubeconfig's folder."""
    inline = entry.get(f"{key}-data") if b64 else entry.get(key)
    if inline:
        return base64.standard_b64decode(inline) if b64 else str(inline).encode()
    name = entry.get("tokenFile" if key == "token" else key)
    return (base / os.path.expanduser(str(name))).read_bytes() if name else None


def _ssl_context(cluster: dict, user: dict, base: Path) -> ssl.SSLContext:
    ca = _data(cluster, "certificate-authority", base)
    if ca is None:
        context = ssl.create_default_context()
    else:
        try:
            context = ssl.create_default_context(cadata=ca.decode("ascii"))
        except UnicodeDecodeError:
            context = ssl.create_default_context(cadata=ca)  # DER
    cert, key = _data(user, "client-certificate", base), _data(user, "client-key", base)
    if cert is not None:
        _load_cert_chain(context, cert, key)
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes | None) -> None:
    """``load_cert_chain`` reads files only: the PEMs go through a private temporary
    folder, removed at once."""
    with tempfile.TemporaryDirectory(prefix="mcp-ops-kube-") as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        for file, content in ((cert_file, cert), (key_file, key)):
            if content is not None:
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
        context.load_cert_chain(str(cert_file), str(key_file) if key is not None else None)
