"""What `Ref` and `Fn::GetAtt` return for a resource: AWS-shaped stand-in values.

Before anything exists there are no real ids, so each resource gets ids of the
shape AWS gives (`vpc-` + 17 hex, load balancer ARNs and DNS names, 10-character
API ids) derived from the stack name and logical id: deterministic, unique, and
readable where they end up (a `Fn::Sub` URL, an IAM policy condition). Every
value handed out is remembered with its owner, so that a property holding one
(`VpcId: vpc-0a1b…`) is traced back to the resource it names. Outputs are
re-written with the plan's real ids once the plan exists (`replacements`).
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field

ALNUM = string.ascii_lowercase + string.digits


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def hex_id(n: int, *parts: str) -> str:
    return _digest(*parts).hex()[:n]


def alnum_id(n: int, *parts: str) -> str:
    d = _digest(*parts)
    return "".join(ALNUM[b % len(ALNUM)] for b in d[:n])


PREFIXED = {
    "AWS::EC2::VPC": "vpc-",
    "AWS::EC2::Subnet": "subnet-",
    "AWS::EC2::SecurityGroup": "sg-",
    "AWS::EC2::Instance": "i-",
    "AWS::EC2::NetworkInterface": "eni-",
    "AWS::EC2::VPCEndpoint": "vpce-",
    "AWS::EC2::VPCEndpointService": "vpce-svc-",
    "AWS::EC2::InternetGateway": "igw-",
    "AWS::EC2::RouteTable": "rtb-",
    "AWS::EC2::NetworkAcl": "acl-",
    "AWS::EC2::NatGateway": "nat-",
    "AWS::EC2::EIP": "eipalloc-",
    "AWS::EC2::SecurityGroupIngress": "sgr-",
    "AWS::EC2::SecurityGroupEgress": "sgr-",
}
SHORT_IDS = {
    "AWS::ApiGateway::RestApi": 10,
    "AWS::ApiGateway::Resource": 6,
    "AWS::ApiGateway::Method": 6,
    "AWS::ApiGateway::Deployment": 6,
    "AWS::ApiGateway::VpcLink": 6,
    "AWS::ApiGatewayV2::Api": 10,
    "AWS::ApiGatewayV2::VpcLink": 6,
    "AWS::ApiGatewayV2::Integration": 7,
    "AWS::ApiGatewayV2::Route": 7,
    "AWS::ApiGatewayV2::Deployment": 6,
}


@dataclass
class Tokens:
    """Stand-in ids for one stack; `owner` maps each value back to (logical id, attribute)."""

    stack: str
    region: str
    account: str
    owner: dict[str, tuple[str, str]] = field(default_factory=dict)

    def _keep(self, value: str, logical: str, attr: str) -> str:
        self.owner.setdefault(value, (logical, attr))
        return value

    def ref(self, logical: str, rtype: str) -> str:
        if rtype in PREFIXED:
            value = PREFIXED[rtype] + hex_id(17, self.stack, logical)
        elif rtype in SHORT_IDS:
            value = alnum_id(SHORT_IDS[rtype], self.stack, logical)
        elif rtype.startswith("AWS::ElasticLoadBalancingV2::"):
            return self.arn(logical, rtype)
        elif (
            rtype == "AWS::ServiceDiscovery::PrivateDnsNamespace"
            or rtype.endswith("DnsNamespace")
            or rtype == "AWS::ServiceDiscovery::HttpNamespace"
        ):
            value = "ns-" + alnum_id(16, self.stack, logical)
        elif rtype == "AWS::ServiceDiscovery::Service":
            value = "srv-" + alnum_id(16, self.stack, logical)
        else:
            value = f"{self.stack}-{logical}-{hex_id(12, self.stack, logical).upper()}"
        return self._keep(value, logical, "Ref")

    def lb_kind(self, lb_type: str) -> str:
        return "net" if lb_type == "network" else "app"

    def lb_name(self, logical: str) -> str:
        return logical[:20].lower()

    def arn(
        self, logical: str, rtype: str, lb_type: str = "application", lb_logical: str = ""
    ) -> str:
        prefix = f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:"
        h = hex_id(16, self.stack, logical)
        if rtype == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            value = f"{prefix}loadbalancer/{self.lb_kind(lb_type)}/{self.lb_name(logical)}/{h}"
        elif rtype == "AWS::ElasticLoadBalancingV2::TargetGroup":
            value = f"{prefix}targetgroup/{logical[:20].lower()}/{h}"
        elif rtype == "AWS::ElasticLoadBalancingV2::Listener":
            value = f"{prefix}listener/{logical[:20].lower()}/{h}"
        else:
            value = f"{prefix}listener-rule/{logical[:20].lower()}/{h}"
        return self._keep(value, logical, "Ref")

    def attr(self, logical: str, rtype: str, attr: str, ref: str) -> str:
        """A GetAtt value that depends on nothing but the resource's identity."""
        h16 = hex_id(16, self.stack, logical)
        if attr in ("Arn",) and rtype.startswith("AWS::ServiceDiscovery::"):
            kind = "service" if rtype.endswith("Service") else "namespace"
            value = f"arn:aws:servicediscovery:{self.region}:{self.account}:{kind}/{ref}"
        elif attr == "Arn":
            svc = rtype.split("::")[1].lower() if rtype.count("::") == 2 else "custom"
            value = f"arn:aws:{svc}:{self.region}:{self.account}:{logical}/{h16}"
        elif attr == "DNSName":
            value = f"{self.lb_name(logical)}-{h16}.elb.{self.region}.amazonaws.com"
        elif attr == "ApiEndpoint":
            value = f"https://{ref}.execute-api.{self.region}.amazonaws.com"
        elif attr == "RootResourceId":
            value = alnum_id(10, self.stack, logical, "root")
        else:
            value = f"{ref}.{attr}"
        return self._keep(value, logical, attr)
