"""Issue 16, items 2-7: how API Gateway's data plane matches AWS where it used to differ.

Each test names the AWS page (or public capture) it follows; docs/apigateway.md has the
same list.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.plan import dns
from hyperplane_emu.services.apigateway import backendtls, config
from hyperplane_emu.services.apigateway.ca import issue, make_ca

GOOD = Path(__file__).resolve().parents[3] / "data" / "good"


def private_plan() -> plan.Plan:
    return plan.build(spec.loads((GOOD / "private-api.yaml").read_text()))


def test_the_data_plane_listens_on_https_443_only() -> None:
    """Item 2: execute-api answers HTTPS only; port 80 has no listener, so a plain HTTP
    connect is refused (codewisdom.io, "HTTP to HTTPS Redirection for API Gateway":
    regional endpoints only listen on 443, port 80 gets ERR_CONNECTION_REFUSED)."""
    p = private_plan()
    assert p.api_gateway is not None and 80 in p.api_gateway.ports  # the fabric still carries it
    cfg = config.from_plan(p, "cert.pem", "key.pem")
    assert [(li.port, li.tls) for li in cfg.listen] == [(443, True)]


def test_only_associated_endpoints_get_the_vpce_specific_name() -> None:
    """Item 5: `<api-id>-<vpce-id>.execute-api…` is the Route 53 alias AWS creates for each
    endpoint in the API's vpcEndpointIds (CloudFormation EndpointConfiguration: "a list of
    VpcEndpointIds ... against which to create Route53 ALIASes"); no other endpoint's."""
    text = (GOOD / "private-api.yaml").read_text()
    p = plan.build(spec.loads(text))
    (api,) = [a for a in p.apis.values() if a.private]
    ep = next(e for e in p.endpoints.values() if e.service == "execute-api")
    assert api.vpc_endpoint_ids == (ep.id,)
    name = f"{api.id}-{ep.id}.execute-api.{p.region}.amazonaws.com"
    zones = dns.zones(p)
    ips = {p.eni(e).ip for e in ep.enis}
    assert all(_answers(z, name) == ips for z in zones.values())
    # Without the association the name does not exist anywhere.
    bare = plan.build(
        spec.loads(text.replace("    vpc_endpoint_ids: [customer/execute-api]\n", ""))
    )
    (api2,) = [a for a in bare.apis.values() if a.private]
    assert api2.vpc_endpoint_ids == ()
    # Only the private-DNS wildcard of the endpoint's own VPC still covers it (as on AWS:
    # every *.execute-api name resolves to the endpoint there); the data plane then
    # answers 403 Forbidden (test_a_vpce_name_of_an_endpoint_not_associated_is_forbidden).
    other = f"zzzzzzzzzz.execute-api.{p.region}.amazonaws.com"
    assert all(_answers(z, name) == _answers(z, other) for z in dns.zones(bare).values())
    assert any(not _answers(z, name) for z in dns.zones(bare).values())


def _answers(zone: dns.Zone, name: str) -> set[str]:
    return set(zone.lookup(name) or ())


@pytest.mark.parametrize(
    ("name", "pattern", "ok"),
    [
        ("orders.internal", "orders.internal", True),
        ("ORDERS.internal.", "orders.internal", True),
        ("a.orders.internal", "*.orders.internal", True),
        ("a.b.orders.internal", "*.orders.internal", False),  # one label only
        ("orders.internal", "*.orders.internal", False),
        ("orders.internal", "other.internal", False),
    ],
)
def test_host_names_match_as_rfc_6125_says(name: str, pattern: str, ok: bool) -> None:
    assert backendtls.name_matches(name, pattern) is ok


def test_check_peer_says_why_in_aws_words(tmp_path: Path) -> None:
    """Item 4: the execution-log lines of knowledge center "api-gateway-500-error-vpc"
    and "api-gateway-ssl-certificate-errors"."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca = make_ca(tmp_path, "t")
    cert_path, _ = issue(ca, ["orders.internal", "10.0.1.5"], tmp_path, "us-east-1", "b", False)
    der = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert backendtls.check_peer(der, "orders.internal") is None
    assert backendtls.check_peer(der, "10.0.1.5") is None
    assert backendtls.check_peer(der, "web.internal") == (
        "Host name 'web.internal' does not match the certificate subject provided by the "
        "peer (CN=orders.internal)"
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    assert backendtls.check_peer(der, "orders.internal", now=later) == backendtls.PKIX_EXPIRED
    assert backendtls.check_peer(b"", "orders.internal") == backendtls.PKIX_PATH


def test_tls_config_reaches_the_plan() -> None:
    """Item 4: spec tls_config -> PlanIntegration (REST skip flag, HTTP API server name)."""
    p = plan.build(spec.load(Path(__file__).resolve().parents[4] / "hyperplane_emu" / "docsgen"
                             / "every-key.yaml"))  # fmt: skip
    integrations = [r.integration for a in p.apis.values() for r in a.routes]
    assert any(i.tls_skip_verification for i in integrations)
    assert any(i.tls_server_name == "payments.shop.internal" for i in integrations)
