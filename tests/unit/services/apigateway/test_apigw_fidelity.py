"""Issue 16, items 2-7: how API Gateway's data plane matches AWS where it used to differ.

Each test names the AWS page (or public capture) it follows; docs/apigateway.md has the
same list.
"""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu import plan, spec
from hyperplane_emu.plan import dns
from hyperplane_emu.services.apigateway import config

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
    bare = plan.build(spec.loads(text.replace("    vpc_endpoint_ids: [customer/execute-api]\n", "")))
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
