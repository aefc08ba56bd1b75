"""The service host's TLS endpoint: the certificate cert-manager says it issued, served.

In production ``mcp.pratiko.ai:443`` presents the certificate cert-manager wrote into the
``production-tls`` secret; the certificate wizard reads its dates from a real handshake and
checks them against the Certificate's status. Here a TLS listener on 127.0.0.1 plays that
part: on every connection it reads the Certificate (``production-tls`` in the production
emulator) and presents a certificate for its ``dnsNames`` whose ``notBefore``/``notAfter``
are the status's own, signed by a CA made for this sandbox (its PEM is the config's
``service.tls_ca_file``, so verification is real, not switched off). When cert-manager
reissues (a renewal moves ``notAfter`` and the ``revision``), the next handshake presents
the new certificate; ``cert-expiring`` therefore shows 12 days over TLS, as production would.
After the handshake it answers one plain HTTP request line with 200 (a front door).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMESPACE, CERTIFICATE = "mcp-production", "production-tls"
RESOURCE = "certificates.cert-manager.io"


def _time(text: str | None, default: datetime.datetime) -> datetime.datetime:
    if not text:
        return default
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class ServiceTls:
    """One TLS listener presenting the Certificate's current certificate."""

    def __init__(self, cluster: Any, workdir: Path, *, namespace: str = NAMESPACE,
                 name: str = CERTIFICATE) -> None:
        self.cluster = cluster
        self.namespace, self.name = namespace, name
        self.workdir = workdir
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcp-ops sandbox CA")])
        self._ca_name = ca_name
        self._ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=3650))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._ca_key, hashes.SHA256()))
        self.ca_file = workdir / "service-ca.pem"
        self.ca_file.write_bytes(self._ca_cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._server: asyncio.Server | None = None
        self.port = 0
        self.handshakes = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def server_name(self) -> str:
        cert = self._certificate() or {}
        names = (cert.get("spec") or {}).get("dnsNames") or ["mcp.pratiko.ai"]
        return str(names[0])

    def _certificate(self) -> dict[str, Any] | None:
        peek: dict[str, Any] | None = self.cluster.store.peek(RESOURCE, self.namespace,
                                                              self.name)
        return peek

    def context(self) -> ssl.SSLContext:
        """The server context for the Certificate as its status stands now."""
        cert = self._certificate() or {}
        status, spec = cert.get("status") or {}, cert.get("spec") or {}
        key = (status.get("notBefore"), status.get("notAfter"), status.get("revision"),
               tuple(spec.get("dnsNames") or ()))
        if key not in self._contexts:
            self._contexts = {key: self._issue(spec, status)}  # only the current one is kept
        return self._contexts[key]

    def _issue(self, spec: dict[str, Any], status: dict[str, Any]) -> ssl.SSLContext:
        now = datetime.datetime.now(datetime.UTC)
        # backdated an hour, as Let's Encrypt does (and the emulator's clock may run fast)
        not_before = min(_time(status.get("notBefore"), now),
                         now) - datetime.timedelta(hours=1)
        not_after = _time(status.get("notAfter"), now + datetime.timedelta(days=90))
        names = [str(n) for n in spec.get("dnsNames") or ["mcp.pratiko.ai"]]
        key = ec.generate_private_key(ec.SECP256R1())
        common = str(spec.get("commonName") or names[0])
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
            .issuer_name(self._ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._ca_key, hashes.SHA256()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            crt, pem = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            Path(crt).write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                  + self._ca_cert.public_bytes(serialization.Encoding.PEM))
            with open(os.open(pem, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as fh:
                fh.write(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
            context.load_cert_chain(crt, pem)
        return context

    def _choose(self, sslobj: ssl.SSLObject, server_name: str | None,
                base: ssl.SSLContext) -> None:
        """At each ClientHello (with or without SNI): the certificate of the moment."""
        sslobj.context = self.context()
        self.handshakes += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(TimeoutError, ConnectionError):
                line = await asyncio.wait_for(reader.readline(), 5)
                if line:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                 b"Connection: close\r\n\r\nok\n")
                    await writer.drain()
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def start(self) -> None:
        base = self.context()
        base.sni_callback = self._choose
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=base,
                                                  ssl_handshake_timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
