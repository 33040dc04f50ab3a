"""Refuse, synchronously and in AWS's error shape, the calls AWS itself would refuse.

The topology validator is the judge: for the calls that create something the
validator has opinions about (an endpoint, an endpoint service, instances, a load
balancer), the state is exported and validated before and after moto applied
the call; an issue the call introduced undoes it (the matching delete) and the
caller gets the validator's words under the error code AWS uses for that call.
A few refusals AWS makes that the document cannot show are checked up front
(an endpoint to a service that does not exist; deploying a private REST API
that has no resource policy).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import yaml

from hyperplane_emu import spec
from hyperplane_emu.awsapi.export import Export
from hyperplane_emu.awsapi.protocol import Call

log = logging.getLogger("hyperplane_emu.awsapi")

Refusal = tuple[str, str]  # (AWS error code, message)

# Judged after the fact: operation -> AWS's error code for a refused one.
JUDGED: dict[tuple[str, str], str] = {
    ("ec2", "CreateVpcEndpoint"): "InvalidParameter",
    ("ec2", "CreateVpcEndpointServiceConfiguration"): "InvalidParameter",
    ("ec2", "RunInstances"): "InvalidParameterValue",
    ("elbv2", "CreateLoadBalancer"): "ValidationError",
}

UP_FRONT = {("ec2", "CreateVpcEndpoint"), ("apigateway", "CreateDeployment"),
            ("ec2", "RunInstances")}  # fmt: skip


class Judge:
    def __init__(self, read: Callable[[], Export], clients: Callable[[str], dict[str, Any]],
                 region: str, accounts: Callable[[], list[str]] = lambda: []) -> None:  # fmt: skip
        self.read = read
        self.clients = clients  # account id -> clients acting in that account
        self.region = region
        self.accounts = accounts

    def wants(self, call: Call) -> bool:
        return (call.service, call.operation) in JUDGED

    def concerns(self, call: Call) -> bool:
        # The judge's own reads and undos come back through the front: they must not wait
        # for the judged call that made them.
        return self.wants(call) or (call.service, call.operation) in UP_FRONT

    def before(self, call: Call) -> Refusal | frozenset[str] | None:
        """A refusal now, or the issues the state already has (to compare after)."""
        early = self._up_front(call)
        if early is not None:
            return early
        if not self.wants(call):
            return None
        return self._issues()

    def after(self, call: Call, body: bytes, baseline: frozenset[str]) -> Refusal | None:
        new = self._issues() - baseline
        if not new:
            return None
        self._undo(call, body)
        message = "; ".join(sorted(new))
        log.info("refused %s:%s: %s", call.service, call.operation, message)
        return JUDGED[(call.service, call.operation)], message

    def _issues(self) -> frozenset[str]:
        ex = self.read()
        if not ex.doc.get("vpcs"):
            return frozenset()
        checked = spec.validate_text(yaml.safe_dump(ex.doc, sort_keys=False), "<api>")
        return frozenset(f"{i.path}: {i.message}" for i in checked.issues)

    def _up_front(self, call: Call) -> Refusal | None:
        c = self.clients(call.account)
        if (call.service, call.operation) == ("ec2", "CreateVpcEndpoint"):
            name = call.params.get("ServiceName", "")
            if name == f"com.amazonaws.{self.region}.execute-api":
                return None
            # The service may be another account's (cross-account PrivateLink).
            for account in dict.fromkeys([call.account, *self.accounts()]):
                ec2 = self.clients(account)["ec2"]
                services = ec2.describe_vpc_endpoint_service_configurations()
                if any(s["ServiceName"] == name for s in services["ServiceConfigurations"]):
                    return None
            return ("InvalidServiceName",
                    f"The Vpc Endpoint Service '{name}' does not exist (the emulator serves "
                    f"com.amazonaws.{self.region}.execute-api and the endpoint services "
                    "created here)")  # fmt: skip
        if (call.service, call.operation) == ("ec2", "RunInstances") and call.params.get(
            "PrivateIpAddress"
        ):
            import ipaddress

            ip, subnet = call.params["PrivateIpAddress"], call.params.get("SubnetId", "")
            found = c["ec2"].describe_subnets(
                Filters=[{"Name": "subnet-id", "Values": [subnet]}])["Subnets"]  # fmt: skip
            if found and ipaddress.ip_address(ip) not in ipaddress.ip_network(
                found[0]["CidrBlock"]
            ):
                why = f"Address {ip} does not fall within the subnet's address range"
                return "InvalidParameterValue", why
        if (call.service, call.operation) == ("apigateway", "CreateDeployment"):
            api = c["apigateway"].get_rest_api(restApiId=call.path_params.get("restapi_id", ""))
            private = "PRIVATE" in api.get("endpointConfiguration", {}).get("types", [])
            if private and not api.get("policy"):
                why = "Private REST API doesn't have a resource policy attached to it"
                return "BadRequestException", why
        return None

    def _undo(self, call: Call, body: bytes) -> None:
        c = self.clients(call.account)
        op = call.operation
        try:
            if op == "CreateVpcEndpoint":
                c["ec2"].delete_vpc_endpoints(VpcEndpointIds=_all(body, "vpcEndpointId")[:1])
            elif op == "CreateVpcEndpointServiceConfiguration":
                c["ec2"].delete_vpc_endpoint_service_configurations(
                    ServiceIds=_all(body, "serviceId")[:1]
                )
            elif op == "RunInstances":
                c["ec2"].terminate_instances(InstanceIds=_all(body, "instanceId"))
            elif op == "CreateLoadBalancer":
                c["elbv2"].delete_load_balancer(LoadBalancerArn=_all(body, "LoadBalancerArn")[0])
        except Exception:  # the refusal stands; what could not be undone is logged
            log.exception("could not undo %s", op)


def _all(body: bytes, tag: str) -> list[str]:
    out = []
    for el in ET.fromstring(body).iter():
        if el.tag.rpartition("}")[2] == tag and el.text and el.text not in out:
            out.append(el.text)
    return out
