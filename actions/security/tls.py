"""A real TLS handshake with the service host: the certificate clients are given.

``echo | openssl s_client -connect mcp.pratiko.ai:443 | openssl x509 -noout -dates`` in
Python: one handshake with ``service.tls_host``, asking for ``tls_server_name`` (SNI) and
verifying the chain (system trust, or ``tls_ca_file``) and the name, as a browser would.
When verification fails the dates are still read (a second handshake that does not
verify), and the failure is reported: an expired or wrongly named certificate must still
show its dates.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Served:
    """What the host presented in one handshake."""

    address: str  # host:port connected to
    server_name: str  # the name asked for and verified
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    names: tuple[str, ...]  # subjectAltName DNS names
    verified: bool
    verify_error: str = ""

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    def describe(self) -> str:
        return (f"{self.address} ({self.server_name}): {self.subject}, issuer {self.issuer}, "
                f"serial {self.serial:x}, notBefore {self.not_before:%Y-%m-%d %H:%M:%S}Z, "
                f"notAfter {self.not_after:%Y-%m-%d %H:%M:%S}Z")


def split_host(tls_host: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``; no port = 443)."""
    text = tls_host.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 443)
    host, sep, port = text.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (text, 443)


def _cn(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = found[0].value if found else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return f"CN={value}" if value is not None else name.rfc4514_string()


async def _peer(host: str, port: int, context: ssl.SSLContext, server_name: str,
                timeout: float) -> bytes:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=server_name,
                                ssl_handshake_timeout=timeout), timeout)
    try:
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        if not der:
            raise ssl.SSLError("the host presented no certificate")
        return bytes(der)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def handshake(tls_host: str, *, server_name: str | None = None,
                    ca_file: str | None = None, timeout: float = 10.0) -> Served:
    """One handshake (two when verification fails); OSError/TimeoutError when the host
    does not answer."""
    host, port = split_host(tls_host)
    name = server_name or host
    verifying = ssl.create_default_context(cafile=ca_file)
    error = ""
    try:
        der = await _peer(host, port, verifying, name, timeout)
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
        looking = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        looking.check_hostname = False
        looking.verify_mode = ssl.CERT_NONE
        der = await _peer(host, port, looking, name, timeout)
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return Served(address=f"{host}:{port}", server_name=name, subject=_cn(cert.subject),
                  issuer=_cn(cert.issuer), serial=cert.serial_number,
                  not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                  names=names, verified=not error, verify_error=error)
