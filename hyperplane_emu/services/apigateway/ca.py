"""A per-topology certificate authority and the API Gateway data plane's certificate.

    ca = make_ca(state_dir / "apigw", topology="shop")        # (ca.pem, ca.key)
    cert, key = issue(ca, ["10.255.0.10"], state_dir / "apigw", region="us-east-1")

Clients inside the emulated VPCs trust `ca.pem` (curl --cacert, Python's
`cafile=`) and then see a certificate that covers every name AWS's own
`execute-api` certificate would: `*.execute-api.<region>.amazonaws.com`
(default and endpoint-specific invoke names), `*.execute-api.<region>.vpce.amazonaws.com`
(the endpoint's DNS names) and `*.<region>.vpce.amazonaws.com`, plus any extra
names or IP addresses given. Keys are EC P-256 (fast: both files in a few ms),
written mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)
_BACKDATE = dt.timedelta(minutes=5)  # tolerate clocks a little behind ours


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
        os.write(fd, data)
    finally:
        os.close(fd)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_ca(directory: str | Path, topology: str = "") -> tuple[Path, Path]:
    """Create `ca.pem` and `ca.key` in `directory`; return their paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cn = f"hyperplane-emu CA {topology}".strip()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hyperplane-emu"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = d / "ca.pem", d / "ca.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def default_names(region: str) -> list[str]:
    return [
        f"*.execute-api.{region}.amazonaws.com",
        f"*.execute-api.{region}.vpce.amazonaws.com",
        f"*.{region}.vpce.amazonaws.com",
    ]


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue(
    ca: tuple[str | Path, str | Path] | None,
    names: Sequence[str],
    directory: str | Path,
    region: str = "us-east-1",
    basename: str = "server",
    execute_api_names: bool = True,
) -> tuple[Path, Path]:
    """Issue `<basename>.pem`/`.key` signed by `ca`, for the execute-api names (unless
    `execute_api_names` is false: a backend's certificate) and `names`; `ca` None: the
    certificate signs itself (chains to nothing: a backend API Gateway must refuse)."""
    key = ec.generate_private_key(ec.SECP256R1())
    if ca is None:
        ca_key: object = key
        issuer_name: x509.Name | None = None
        ca_not_after = dt.datetime.max.replace(tzinfo=dt.UTC)
    else:
        ca_cert = x509.load_pem_x509_certificate(Path(ca[0]).read_bytes())
        ca_key = serialization.load_pem_private_key(Path(ca[1]).read_bytes(), password=None)
        issuer_name = ca_cert.subject
        ca_not_after = ca_cert.not_valid_after_utc
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca and ca[1]}: not an EC key")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    all_names: list[str] = []
    for n in [*(default_names(region) if execute_api_names else []), *names]:
        if n not in all_names:
            all_names.append(n)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, all_names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + VALIDITY, ca_not_after))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in all_names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = d / f"{basename}.pem", d / f"{basename}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path
