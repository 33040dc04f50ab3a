"""How API Gateway judges a backend's TLS certificate (pure, but for loading CA files).

AWS (knowledge center "api-gateway-ssl-certificate-errors"; Developer Guide,
x-amazon-apigateway-integration.tlsConfig): an HTTPS integration's certificate must
chain to a trusted issuer, be within its validity period and carry the host name
(REST: the uri's host; HTTP API private integrations: `serverNameToVerify`).
`insecureSkipVerification` (REST) drops the issuer check only: "API Gateway still
performs basic certificate validation, which includes checking the certificate's
expiration date, hostname". Failures are configuration errors: REST answers 500,
HTTP APIs 503, and the execution log says why, in AWS's words:

- untrusted issuer: `PKIX path building failed: ... unable to find valid
  certification path to requested target`;
- expired: `PKIX path validation failed: ... validity check failed`;
- name: `Host name '<name>' does not match the certificate subject provided by
  the peer (CN=<cn>)` (knowledge center "api-gateway-500-error-vpc").

Trusted issuers here: the topology's CA (`ca.py`, standing for the public CAs API
Gateway trusts), so a backend certificate issued by it passes and a self-signed one
needs `insecure_skip_verification`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

VERIFY = "verify"  # chain + expiry + name
SKIP_CHAIN = "skip-chain"  # insecureSkipVerification: expiry + name

PKIX_PATH = (
    "PKIX path building failed: sun.security.provider.certpath."
    "SunCertPathBuilderException: unable to find valid certification path to requested target"
)
PKIX_EXPIRED = (
    "PKIX path validation failed: java.security.cert.CertPathValidatorException: "
    "validity check failed"
)


def contexts(ca_files: Sequence[str]) -> dict[str, ssl.SSLContext]:
    """The two client contexts: the full check (chain by OpenSSL, name by `check_peer`)
    and the one without an issuer check."""
    verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    verify.check_hostname = False  # checked by check_peer, with AWS's message
    verify.verify_mode = ssl.CERT_REQUIRED
    for ca in ca_files:
        verify.load_verify_locations(cafile=ca)
    skip = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    skip.check_hostname = False
    skip.verify_mode = ssl.CERT_NONE
    for ctx in (verify, skip):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
    return {VERIFY: verify, SKIP_CHAIN: skip}


def handshake_failure(e: ssl.SSLError) -> str:
    """AWS's execution-log text for a chain OpenSSL refused."""
    if isinstance(e, ssl.SSLCertVerificationError) and e.verify_code == 10:  # expired
        return PKIX_EXPIRED
    return PKIX_PATH


def _subject_cn(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the certificate is for: its SANs, else its CN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        cn = _subject_cn(cert)
        return ([cn] if cn else []), []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def name_matches(name: str, pattern: str) -> bool:
    """RFC 6125: case-insensitive; `*` only as the whole left-most label, one label."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if not pattern.startswith("*."):
        return name == pattern
    head, _, rest = name.partition(".")
    return bool(head) and rest == pattern[2:]


def check_peer(der: bytes, name: str, now: dt.datetime | None = None) -> str | None:
    """Why API Gateway refuses this certificate for `name` (expiry, name), or None."""
    if not der:
        return PKIX_PATH
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return PKIX_EXPIRED
    dns, ips = names_of(cert)
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        ok = any(name_matches(name, d) for d in dns)
    else:
        ok = any(ipaddress.ip_address(i) == address for i in ips)
    if ok:
        return None
    return (
        f"Host name '{name}' does not match the certificate subject provided by the peer "
        f"(CN={_subject_cn(cert)})"
    )
