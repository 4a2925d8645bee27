"""The service port's TLS certificate: self-signed, made once in the data dir and reused.

Shaped like go-livepeer's (ECDSA P-256, CA flag, certSign + digitalSignature, serverAuth, a DNS
name equal to the service host even when it is an IP; protocol.md §1.2). Nobody validates it:
gateways skip verification or pin what they see (the SDK), so keeping it across restarts only
spares the SDK its re-pinning retry. A certificate that no longer names the service host or is
near its end is replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

log = logging.getLogger(__name__)

VALIDITY = dt.timedelta(hours=8765)  # go's choice: a year
RENEW_BEFORE = dt.timedelta(days=30)


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(host)]  # first: the SDK's TOFU authority
    with contextlib.suppress(ValueError):  # a DNS name has no IP entry
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    return names


def _usable(cert_path: Path, key_path: Path, host: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = dt.datetime.now(dt.UTC)
    return (
        host in sans.get_values_for_type(x509.DNSName)
        and cert.not_valid_after_utc - now > RENEW_BEFORE
        and key.public_key() == cert.public_key()
    )


def _create(cert_path: Path, key_path: Path, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # NOTE: critical because the subject is empty (RFC 5280 §4.2.1.6; go does the same).
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    for path, data, mode in ((key_path, key_pem, 0o600), (cert_path, cert_pem, 0o644)):
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def ensure_certificate(data_dir: Path, host: str) -> tuple[Path, Path]:
    """(cert.pem, key.pem) under data_dir/tls for `host`, made on first use and reused."""
    cert_path, key_path = data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem"
    if _usable(cert_path, key_path, host):
        log.info("reusing the TLS certificate %s", cert_path)
    else:
        _create(cert_path, key_path, host)
        log.info("created a self-signed TLS certificate for %s: %s", host, cert_path)
    return cert_path, key_path
