"""`echo+tls` servers, the host `certificate` they present, settings.backend_trusted_cas:
spec, plan and issuance (issue 16 item 4)."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from cryptography import x509

from hyperplane_emu import spec
from hyperplane_emu.plan.build import build
from hyperplane_emu.plan.model import PlanApiGateway
from hyperplane_emu.plan.serialize import from_json, to_json
from hyperplane_emu.runtime.apigw import host_certificates
from hyperplane_emu.services.apigateway.ca import make_ca
from hyperplane_emu.services.apigateway.config import from_plan
from hyperplane_emu.spec import SpecError

TOPO = """
name: tls
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    hosts:
      plain: {subnet: a, serve: echo:8080}
      named: {subnet: a, serve: [echo:8080, "echo+tls:8443"],
              certificate: {names: [orders.example.com, 10.0.1.99]}}
      default: {subnet: a, serve: "echo+tls:443", private_ip: 10.0.1.20}
      selfsigned: {subnet: a, serve: "echo+tls:8443", certificate: {issuer: self-signed}}
"""


def test_echo_tls_parses_with_its_certificate_and_defaults() -> None:
    hosts = spec.loads(TOPO).vpcs["customer"].hosts
    assert [(s.kind, s.port, s.tls) for s in hosts["named"].serve] == [
        ("echo", 8080, False), ("echo", 8443, True),
    ]  # fmt: skip
    assert hosts["plain"].certificate is None
    named = hosts["named"].certificate
    assert named is not None and named.names == ("orders.example.com", "10.0.1.99")
    assert named.issuer == "topology"
    default = hosts["default"].certificate
    assert default is not None and default.names == () and default.issuer == "topology"
    selfsigned = hosts["selfsigned"].certificate
    assert selfsigned is not None and selfsigned.issuer == "self-signed"


def test_plan_resolves_default_names_to_private_dns_name_and_ip() -> None:
    p = build(spec.loads(TOPO))
    default = p.hosts["default"].certificate
    assert default is not None
    assert default.names == ("ip-10-0-1-20.ec2.internal", "10.0.1.20")
    assert p.hosts["plain"].certificate is None
    assert [s.tls for s in p.hosts["named"].serve] == [False, True]
    assert from_json(to_json(p)) == p  # additive fields round-trip


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("{subnet: a, certificate: {}}", "no TLS server presents this certificate"),
        ("{subnet: a, serve: echo:80, certificate: {}}", "no TLS server presents"),
        ('{subnet: a, serve: "echo+tls:443", certificate: {issuer: acm}}', "unknown issuer"),
        ('{subnet: a, serve: "echo+tls:443", certificate: {names: [a.b, a.b]}}', "twice"),
        ('{subnet: a, serve: "echo+tls:443", certificate: {names: ["-x y"]}}', "not a DNS"),
        ('{subnet: a, serve: "echo+tls:443", certificate: {arn: x}}', "arn"),
        ('{subnet: a, serve: ["echo+tls:443", "echo:443"]}', "served twice"),
    ],
)
def test_bad_certificates_are_refused_with_their_path(host: str, error: str) -> None:
    text = TOPO.split("    hosts:")[0] + f"    hosts:\n      app: {host}\n"
    with pytest.raises(SpecError) as e:
        spec.loads(text)
    assert any(
        i.path.startswith("vpcs.customer.hosts.app") and error in i.message for i in e.value.issues
    ), e.value.issues


def test_trusted_cas_are_relative_to_the_topology_and_reach_the_data_plane(
    tmp_path: Path,
) -> None:
    (tmp_path / "cas").mkdir()
    ca, _ = make_ca(tmp_path / "cas", "public")
    f = tmp_path / "t.yaml"
    f.write_text(TOPO.replace("vpcs:", "settings: {backend_trusted_cas: [cas/ca.pem]}\nvpcs:", 1))
    p = build(spec.load(f))
    assert p.settings.backend_trusted_cas == (str(ca.resolve()),)
    with_gateway = dataclasses.replace(p, api_gateway=PlanApiGateway("", "", "", "", "", ()))
    assert from_plan(with_gateway, None, None).backend_cas == (str(ca.resolve()),)


def test_trusted_ca_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    f = tmp_path / "t.yaml"
    f.write_text(TOPO.replace("vpcs:", "settings: {backend_trusted_cas: [junk.pem]}\nvpcs:", 1))
    with pytest.raises(SpecError) as e:
        spec.load(f)
    assert [(i.path, "holds no PEM certificate" in i.message) for i in e.value.issues] == [
        ("settings.backend_trusted_cas[0]", True)
    ]


def test_issuance_chains_to_the_topology_ca_or_to_nothing(tmp_path: Path) -> None:
    p = build(spec.loads(TOPO))
    certs = host_certificates(p, tmp_path)
    assert sorted(certs) == ["default", "named", "selfsigned"]
    ca = x509.load_pem_x509_certificate((tmp_path / "apigw" / "ca.pem").read_bytes())
    for path in (*certs["named"], *certs["selfsigned"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    named = x509.load_pem_x509_certificate(certs["named"][0].read_bytes())
    assert named.issuer == ca.subject
    named.verify_directly_issued_by(ca)
    san = named.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in san] == ["orders.example.com", "10.0.1.99"]
    own = x509.load_pem_x509_certificate(certs["selfsigned"][0].read_bytes())
    assert own.issuer == own.subject != ca.subject
    with pytest.raises(ValueError):
        own.verify_directly_issued_by(ca)
    own.verify_directly_issued_by(own)
    # The data plane's own certificate comes later from the same CA, not a new one.
    before = (tmp_path / "apigw" / "ca.pem").read_bytes()
    from hyperplane_emu.runtime.apigw import topology_ca

    topology_ca(p, tmp_path)
    assert (tmp_path / "apigw" / "ca.pem").read_bytes() == before


def test_data_plane_trusts_the_topology_ca_plus_the_listed_ones(tmp_path: Path) -> None:
    """__main__: --backend-ca (else ca.pem beside --cert) first, then the plan's list."""
    from hyperplane_emu.services.apigateway.__main__ import _load, parse_args

    (tmp_path / "cas").mkdir()
    listed, _ = make_ca(tmp_path / "cas", "public")
    f = tmp_path / "t.yaml"
    f.write_text(TOPO.replace("vpcs:", "settings: {backend_trusted_cas: [cas/ca.pem]}\nvpcs:", 1))
    p = dataclasses.replace(build(spec.load(f)), api_gateway=PlanApiGateway("", "", "", "", "", ()))
    (tmp_path / "plan.json").write_text(to_json(p))
    topo_ca, _ = make_ca(tmp_path / "apigw", "tls")
    args = parse_args(["--plan", str(tmp_path / "plan.json"),
                       "--cert", str(tmp_path / "apigw" / "server.pem")])  # fmt: skip
    assert _load(args).backend_cas == (str(topo_ca), str(listed.resolve()))
