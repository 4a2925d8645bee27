from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from lpengine.serve import tls


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificate_shape(tmp_path):
    cert_path, key_path = tls.ensure_certificate(tmp_path, "127.0.0.1")
    cert = load(cert_path)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.digital_signature
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["127.0.0.1"]  # first DNS name: SDK authority
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert len(cert.subject) == 0  # no CN, as go
    assert cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=360)
    assert (key_path.stat().st_mode & 0o777) == 0o600


def test_reused_until_the_host_changes(tmp_path):
    first = tls.ensure_certificate(tmp_path, "lp.example.com")[0].read_bytes()
    assert tls.ensure_certificate(tmp_path, "lp.example.com")[0].read_bytes() == first
    other = tls.ensure_certificate(tmp_path, "10.1.2.3")[0]
    assert other.read_bytes() != first
    assert load(other).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName) == ["10.1.2.3"]


def test_broken_files_are_replaced(tmp_path):
    _, key_path = tls.ensure_certificate(tmp_path, "h")
    key_path.write_text("garbage")
    tls.ensure_certificate(tmp_path, "h")
    assert b"PRIVATE KEY" in key_path.read_bytes()
