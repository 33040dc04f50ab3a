"""The emulator's CA and the data plane certificate."""

from __future__ import annotations

import ipaddress
import ssl
import stat
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hyperplane_emu.services.apigateway.ca import issue, make_ca


def test_make_ca_and_issue(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    ca = make_ca(tmp_path / "ca", topology="shop")
    cert_path, key_path = issue(
        ca, ["10.255.0.10", "api.shop.internal"], tmp_path / "apigw", region="eu-west-1"
    )
    took = time.perf_counter() - t0
    assert took < 0.1, took
    for p in (ca[1], key_path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    ca_cert = x509.load_pem_x509_certificate(ca[0].read_bytes())
    assert ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "hyperplane-emu CA shop"
    )
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(ca_cert.public_key(), ec.EllipticCurvePublicKey)
    assert ca_cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    days = (ca_cert.not_valid_after_utc - ca_cert.not_valid_before_utc).days
    assert 364 <= days <= 366
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "*.execute-api.eu-west-1.amazonaws.com",
        "*.execute-api.eu-west-1.vpce.amazonaws.com",
        "*.eu-west-1.vpce.amazonaws.com",
        "api.shop.internal",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.255.0.10")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_python_ssl_accepts_the_pair(tmp_path: Path) -> None:
    """A full in-memory handshake: client trusts ca.pem and checks the host name."""
    ca = make_ca(tmp_path)
    cert, key = issue(ca, [], tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(ca[0]))

    def handshake(name: str) -> None:
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=name)
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        for _ in range(10):
            done = 0
            for side, out_bio, peer_in in ((client, c_out, s_in), (server, s_out, c_in)):
                try:
                    side.do_handshake()
                    done += 1
                except ssl.SSLWantReadError:
                    pass
                peer_in.write(out_bio.read())
            if done == 2:
                return
        raise AssertionError("handshake did not finish")

    handshake("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com")
    handshake("vpce-0abc-xyz.execute-api.us-east-1.vpce.amazonaws.com")
    try:
        handshake("a.b.execute-api.us-east-1.amazonaws.com")  # wildcard covers one label
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError("a two-label name must not match the wildcard")


def test_rewrite_keeps_key_private(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    ca[1].chmod(0o644)
    ca2 = make_ca(tmp_path)
    assert stat.S_IMODE(ca2[1].stat().st_mode) == 0o600
