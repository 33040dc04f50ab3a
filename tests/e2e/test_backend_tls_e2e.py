"""Backend TLS through a REST VPC link to `echo+tls` targets the topology starts
(issue 16 item 4): a certificate from the topology's CA with the uri's host name
answers; a self-signed one is refused (500) unless insecure_skip_verification, which
still checks the name; a CA listed in settings.backend_trusted_cas is trusted too."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import Topology
from test_apigateway import api, curl

from hyperplane_emu.services.apigateway.ca import issue, make_ca

TOPOLOGY = """
name: NAME
region: us-east-1
settings: {backend_trusted_cas: [public/ca.pem]}
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      client: {}
      vpce:
        ingress: [{port: 443, source: sg/client}]
      app:
        ingress: [{port: 8443, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a, security_groups: [client]}
      tls1: {subnet: a, security_groups: [app], serve: [echo:8080, "echo+tls:8443"],
             certificate: {names: [orders.internal]}}
      tls2: {subnet: a, security_groups: [app], serve: "echo+tls:8443",
             certificate: {names: [self.internal], issuer: self-signed}}
      pub: {subnet: a, security_groups: [app]}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a]
        listeners:
          - {port: 443, target_group: orders}
          - {port: 8443, target_group: self}
          - {port: 9443, target_group: pub}
        target_groups:
          orders: {port: 8443, targets: [tls1]}
          self: {port: 8443, targets: [tls2]}
          pub: {port: 8443, targets: [pub]}
    endpoints:
      execute-api: {service: execute-api, subnets: [a], security_groups: [vpce],
                    private_dns: true}
apis:
  orders:
    type: rest
    endpoint: private
    policy: [{effect: Allow, source_vpce: [customer/execute-api]}]
    vpc_links:
      link: {target: customer/orders-nlb}
    stages: [prod]
    routes:
      "GET /good":
        integration: {vpc_link: link, uri: "https://orders.internal:443/good", timeout_ms: 5000}
      "GET /wrong-name":
        integration: {vpc_link: link, uri: "https://web.internal:443/x", timeout_ms: 5000}
      "GET /skip-wrong-name":
        integration: {vpc_link: link, uri: "https://web.internal:443/x", timeout_ms: 5000,
                      tls_config: {insecure_skip_verification: true}}
      "GET /self":
        integration: {vpc_link: link, uri: "https://self.internal:8443/x", timeout_ms: 5000}
      "GET /self-skip":
        integration: {vpc_link: link, uri: "https://self.internal:8443/x", timeout_ms: 5000,
                      tls_config: {insecure_skip_verification: true}}
      "GET /public":
        integration: {vpc_link: link, uri: "https://public.internal:9443/x", timeout_ms: 5000}
"""

INTERNAL_ERROR = (500, {"message": "Internal server error"})


def test_echo_tls_targets_are_verified_as_api_gateway_does(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    # A "public" CA the topology lists: what a real backend's certificate chains to.
    public_ca = make_ca(tmp_path / "public", "public")
    t = topology(TOPOLOGY)
    orders = api(t, "orders")
    base = f"https://{orders.hostname}/prod"

    status, _, body = curl(t, f"{base}/good")
    assert status == 200 and body["host"] == "tls1", body
    for path in ("/wrong-name", "/skip-wrong-name", "/self"):
        status, headers, body = curl(t, f"{base}{path}")
        assert (status, body) == INTERNAL_ERROR, path
        assert headers["x-amzn-errortype"] == "InternalServerErrorException"
    status, _, body = curl(t, f"{base}/self-skip")
    assert status == 200 and body["host"] == "tls2", body
    log = (t.state.logs / "apigateway.log").read_text()
    assert (
        "Execution failed due to configuration error: Host name 'web.internal' does not "
        "match the certificate subject provided by the peer (CN=orders.internal)"
    ) in log
    assert "unable to find valid certification path to requested target" in log

    # The runtime wrote tls1's certificate and key for its echo, readable by root only.
    certs = t.state.path / "certs"
    assert {p.name for p in certs.iterdir()} == {"tls1.pem", "tls1.key", "tls2.pem", "tls2.key"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in certs.iterdir())

    # A target whose certificate comes from the listed CA (started by hand: a topology
    # issues only from its own CA or self-signed).
    cert, key = issue(public_ca, ["public.internal"], tmp_path, basename="pub",
                      execute_api_names=False)  # fmt: skip
    echo = subprocess.Popen(
        ["ip", "netns", "exec", t.plan.hosts["pub"].namespace, sys.executable, "-m",
         "hyperplane_emu.services.echo", "--port", "8443", "--name", "pub",
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert echo.stdout is not None
        assert echo.stdout.readline().startswith("echo listening on tls")
        status, _, body = curl(t, f"{base}/public")
        assert status == 200 and body["host"] == "pub", body
    finally:
        echo.terminate()
        echo.wait(timeout=10)
