"""The TLS client context (which certificates are trusted) and what a refused certificate was.

Trust, in order:

1. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` set in the environment: exactly those roots, as OpenSSL
   defines the variables (a company's inspection root, a test CA), whatever ``--trust`` says;
2. ``--trust system`` (the default): the OS store through ``truststore`` (the Windows store,
   the macOS keychain, the distribution's bundle on Linux), where companies put their roots
   and where python.org's macOS builds find any at all;
3. ``--trust python``: certifi's bundle (else OpenSSL's default paths).

:func:`client_context` logs which was used (INFO). :func:`peer_certificate` fetches the
certificate a server presents without trusting it, so a refusal can name its issuer, its
names and its dates (:func:`describe_refusal`); it is only called after a failed handshake.
``truststore``, ``certifi`` and ``cryptography`` are imported only when needed (launch time).
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import os
import ssl
from dataclasses import dataclass

from voicelive.connection.proxy import open_tunnel
from voicelive.errors import ConfigError

log = logging.getLogger(__name__)

INSPECTION_HINT = (
    "if your network inspects TLS, install its root in the OS store or set SSL_CERT_FILE"
)


def client_context(trust: str) -> tuple[ssl.SSLContext, str]:
    """A verifying client context for ``trust`` (``system`` or ``python``), and a description
    of its roots for the log. Raises ConfigError when SSL_CERT_FILE/DIR cannot be read.

    Made once per trust source and variables (loading a bundle costs about 60 ms of CPU, which
    a reconnect should not pay again); a context is safe to share between connections."""
    context, description = _context(
        trust, os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None
    )
    log.info("TLS trust: %s", description)
    return context, description


@functools.lru_cache(maxsize=4)
def _context(trust: str, cafile: str | None, capath: str | None) -> tuple[ssl.SSLContext, str]:
    if cafile or capath:
        try:
            context = ssl.create_default_context(cafile=cafile, capath=capath)
        except (OSError, ssl.SSLError) as exc:
            name = "SSL_CERT_FILE" if cafile else "SSL_CERT_DIR"
            raise ConfigError(
                f"{name} names {cafile or capath}, which holds no readable certificates "
                f"({exc.__class__.__name__}); point it at a PEM file of root certificates, or "
                f"unset it to use the OS store."
            ) from None
        where = " and ".join(
            f"{k}={v}" for k, v in (("SSL_CERT_FILE", cafile), ("SSL_CERT_DIR", capath)) if v
        )
        description = f"the roots in {where}"
    elif trust == "system":
        import truststore

        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        description = "the OS trust store (truststore)"
    else:
        try:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
            description = f"Python's bundle (certifi {certifi.where()})"
        except ImportError:
            context = ssl.create_default_context()
            description = "Python's default (OpenSSL's paths)"
    return context, description


@dataclass(frozen=True)
class PeerCertificate:
    """What the server presented: its issuer's and subject's common names (or the whole name),
    the DNS names and addresses it is valid for, and its validity dates (UTC)."""

    issuer: str
    subject: str
    names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime


async def peer_certificate(
    host: str, port: int, proxy: str | None, timeout_s: float
) -> PeerCertificate | None:
    """The certificate ``host:port`` presents, fetched without verifying it; None when it
    cannot be fetched or read (never raises: this only improves a message)."""
    try:
        _reader, writer = await open_tunnel(proxy, host, port, timeout_s)
        try:
            unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE  # look only; nothing is sent over it
            await asyncio.wait_for(writer.start_tls(unverified, server_hostname=host), timeout_s)
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        finally:
            writer.close()
        return _parse(der) if der else None
    except Exception:  # the diagnosis is best effort; the original failure is what counts
        log.debug("could not fetch the certificate of %s:%d", host, port, exc_info=True)
        return None


def _parse(der: bytes) -> PeerCertificate | None:
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None

    def name(value: x509.Name) -> str:
        common = value.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(common[0].value) if common else value.rfc4514_string()

    cert = x509.load_der_x509_certificate(der)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = (*alt.get_values_for_type(x509.DNSName),
                 *(str(ip) for ip in alt.get_values_for_type(x509.IPAddress)))  # fmt: skip
    except x509.ExtensionNotFound:
        names = (name(cert.subject),)
    return PeerCertificate(
        name(cert.issuer),
        name(cert.subject),
        tuple(names),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )


def refusal_kind(exc: ssl.SSLCertVerificationError) -> str:
    """``hostname``, ``expired``, ``not-yet-valid`` or ``untrusted``, from OpenSSL's code or,
    on macOS/Windows (truststore), the OS's message."""
    code = getattr(exc, "verify_code", None)
    text = f"{getattr(exc, 'verify_message', '')} {exc}".lower()
    if code == 62 or "hostname" in text or "not valid for" in text:
        return "hostname"
    if code == 10 or "expired" in text:
        return "expired"
    if code == 9 or "not yet valid" in text:
        return "not-yet-valid"
    return "untrusted"


def describe_refusal(
    exc: ssl.SSLCertVerificationError, host: str, cert: PeerCertificate | None, trust: str
) -> str:
    """The sentence for a certificate ``host`` presented that was refused."""
    kind = refusal_kind(exc)
    issuer = f'"{cert.issuer}"' if cert else "an issuer voicelive could not read"
    if kind == "hostname":
        names = ", ".join(cert.names) if cert else "other names"
        return (
            f"The certificate {host} presented is for {names}, not {host} (issued by {issuer}): "
            "check --endpoint; if your network inspects TLS, its proxy answered for a host it "
            "does not cover."
        )
    if kind in ("expired", "not-yet-valid"):
        expired = kind == "expired"
        when = ""
        if cert is not None:
            when = f" on {_day(cert.not_after)}" if expired else f" until {_day(cert.not_before)}"
        state = "expired" if expired else "is not valid yet"
        return (
            f"The certificate of {host} {state}{when} (issued by {issuer}): check this "
            "computer's date and time; if they are right, the server's certificate must be "
            "renewed."
        )
    store = "the OS trust store" if trust == "system" else "Python's certificate bundle"
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        store = "SSL_CERT_FILE / SSL_CERT_DIR"
    return (
        f"The certificate of {host} was issued by {issuer}, which {store} does not trust; "
        f"{INSPECTION_HINT} to a file holding it."
    )


def _day(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
