"""Each resource type's translation into topology keys."""

from __future__ import annotations

from cfn_helpers import NET, errors, load, topology


def test_vpc_and_subnets() -> None:
    t = topology(NET)
    assert t["vpcs"] == {
        "vpc": {
            "cidr": "10.0.0.0/16",
            "subnets": {
                "subnet-a": {"cidr": "10.0.1.0/24", "az": "us-east-1a"},
                "subnet-b": {"cidr": "10.0.2.0/24", "az": "us-east-1b"},
            },
        }
    }


def test_subnet_without_az_gets_the_first_and_says_so() -> None:
    got = load(
        NET
        + """
  SubnetC:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.3.0/24}
"""
    )
    assert got.ok
    assert got.translation.topology["vpcs"]["vpc"]["subnets"]["subnet-c"]["az"] == "us-east-1a"
    assert any("no AvailabilityZone" in i for i in got.translation.ignored)


SG = (
    NET
    + """
  App:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: app
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: !GetAtt Lb.GroupId}
        - {IpProtocol: "6", FromPort: 9000, ToPort: 9010, CidrIp: 10.0.0.0/16, Description: range}
        - {IpProtocol: icmp, FromPort: 8, ToPort: -1, CidrIp: 10.0.0.0/16}
        - {IpProtocol: "-1", CidrIp: 10.0.1.0/24}
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIpv6: "::/0"}
      SecurityGroupEgress:
        - {IpProtocol: udp, FromPort: 53, ToPort: 53, CidrIp: 10.0.0.2/32}
  Lb:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: lb, VpcId: !Ref Vpc}
  LbOut:
    Type: AWS::EC2::SecurityGroupEgress
    Properties: {GroupId: !Ref Lb, IpProtocol: tcp, FromPort: 8080, ToPort: 8080,
                 DestinationSecurityGroupId: !Ref App}
  AppIn:
    Type: AWS::EC2::SecurityGroupIngress
    Properties: {GroupId: !Ref App, IpProtocol: tcp, FromPort: 443, ToPort: 443,
                 SourceSecurityGroupId: !GetAtt Vpc.DefaultSecurityGroup}
"""
)


def test_security_groups_inline_and_standalone_rules() -> None:
    got = load(SG)
    assert got.ok, got.issues
    groups = got.translation.topology["vpcs"]["vpc"]["security_groups"]
    assert groups["app"] == {
        "description": "app",
        "ingress": [
            {"protocol": "tcp", "port": 8080, "source": "sg/lb"},
            {
                "protocol": "tcp",
                "port": "9000-9010",
                "source": "10.0.0.0/16",
                "description": "range",
            },
            {"protocol": "icmp", "source": "10.0.0.0/16"},
            {"protocol": "all", "source": "10.0.1.0/24"},
            {"protocol": "tcp", "port": 443, "source": "sg/default"},
        ],
        "egress": [{"protocol": "udp", "port": 53, "destination": "10.0.0.2/32"}],
    }
    # A standalone egress rule keeps AWS's default "all out" of a group without inline egress.
    assert groups["lb"]["egress"] == [
        {"protocol": "all", "destination": "0.0.0.0/0"},
        {"protocol": "tcp", "port": 8080, "destination": "sg/app"},
    ]
    ignored = " ".join(got.translation.ignored)
    assert "IPv6 rule dropped" in ignored and "ICMP type 8 widened" in ignored


def test_security_group_rule_errors() -> None:
    errs = errors(
        NET
        + """
  Bad:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: bad
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: gre, CidrIp: 10.0.0.0/16}
        - {IpProtocol: tcp, CidrIp: 10.0.0.0/16}
        - {IpProtocol: tcp, FromPort: 1, ToPort: 1, SourcePrefixListId: pl-123}
        - {IpProtocol: tcp, FromPort: 1, ToPort: 1}
  NoVpc:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: x}
"""
    )
    text = "\n".join(errs)
    assert "SecurityGroupIngress[0].IpProtocol" in text and "'gre' is not emulated" in text
    assert "SecurityGroupIngress[1]" in text and "needs FromPort and ToPort" in text
    assert "SecurityGroupIngress[2].SourcePrefixListId" in text
    assert "SecurityGroupIngress[3]" in text and "exactly one of CidrIp" in text
    assert "Resources.NoVpc" in text and "no default VPC" in text


HOSTS = (
    SG
    + """
  Web:
    Type: AWS::EC2::Instance
    Metadata: {hyperplane-emu: {serve: [echo:8080, echo:9090]}}
    Properties:
      ImageId: ami-1
      SubnetId: !Ref SubnetA
      SecurityGroupIds: [!Ref App]
      PrivateIpAddress: 10.0.1.10
      SourceDestCheck: "false"
  Tagged:
    Type: AWS::EC2::Instance
    Properties:
      NetworkInterfaces:
        - {DeviceIndex: "0", SubnetId: !Ref SubnetB, GroupSet: [!Ref Lb]}
      Tags: [{Key: hyperplane-emu:serve, Value: "echo:80, echo:81"}]
  Nic:
    Type: AWS::EC2::NetworkInterface
    Properties: {SubnetId: !Ref SubnetB, GroupSet: [!Ref App], PrivateIpAddress: 10.0.2.40}
  OnNic:
    Type: AWS::EC2::Instance
    Properties:
      NetworkInterfaces: [{DeviceIndex: 0, NetworkInterfaceId: !Ref Nic}]
  Loose:
    Type: AWS::EC2::NetworkInterface
    Metadata: {hyperplane-emu: {serve: echo:7000}}
    Properties: {SubnetId: !Ref SubnetA}
  Bare:
    Type: AWS::EC2::Instance
    Properties: {SubnetId: !Ref SubnetA}
"""
)


def test_instances_and_network_interfaces_become_hosts() -> None:
    got = load(HOSTS + "Outputs:\n  BareIp: {Value: !GetAtt Bare.PrivateIp}\n")
    assert got.ok, got.issues
    hosts = got.translation.topology["vpcs"]["vpc"]["hosts"]
    assert hosts["web"] == {
        "subnet": "subnet-a",
        "security_groups": ["app"],
        "private_ip": "10.0.1.10",
        "source_dest_check": False,
        "serve": ["echo:8080", "echo:9090"],
    }
    assert hosts["tagged"] == {
        "subnet": "subnet-b",
        "security_groups": ["lb"],
        "serve": ["echo:80", "echo:81"],
    }
    assert hosts["on-nic"] == {
        "subnet": "subnet-b",
        "security_groups": ["app"],
        "private_ip": "10.0.2.40",
    }
    assert "nic" not in hosts  # the ENI is on-nic's eth0
    assert hosts["loose"] == {"subnet": "subnet-a", "serve": ["echo:7000"]}
    # An address the template reads (GetAtt PrivateIp) is pinned from the top of the subnet.
    assert hosts["bare"] == {"subnet": "subnet-a", "private_ip": "10.0.1.253"}
    assert got.translation.outputs["BareIp"] == "10.0.1.253"


def test_instance_errors() -> None:
    text = "\n".join(
        errors(
            NET
            + """
  NoSubnet:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-1}
  TwoNics:
    Type: AWS::EC2::Instance
    Properties:
      NetworkInterfaces:
        - {DeviceIndex: 0, SubnetId: !Ref SubnetA}
        - {DeviceIndex: 1, SubnetId: !Ref SubnetB}
  Named:
    Type: AWS::EC2::Instance
    Properties: {SubnetId: !Ref SubnetA, SecurityGroups: [default]}
"""
        )
    )
    assert "Resources.NoSubnet" in text and "SubnetId is required" in text
    assert "Resources.TwoNics.Properties.NetworkInterfaces" in text
    assert "Resources.Named.Properties.SecurityGroups" in text


def test_spec_errors_are_reported_at_the_template_path() -> None:
    text = "\n".join(
        errors(
            NET
            + """
  BadServe:
    Type: AWS::EC2::Instance
    Metadata: {hyperplane-emu: {serve: "nginx:80"}}
    Properties: {SubnetId: !Ref SubnetA, PrivateIpAddress: 10.0.2.9}
"""
        )
    )
    assert "Resources.BadServe.Metadata.hyperplane-emu.serve" in text and "nginx" in text
    assert "Resources.BadServe (line 15)" in text and "10.0.2.9" in text


NLB = (
    HOSTS
    + """
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Type: network
      Scheme: internal
      SubnetMappings: [{SubnetId: !Ref SubnetA}, {SubnetId: !Ref SubnetB}]
      LoadBalancerAttributes: [{Key: load_balancing.cross_zone.enabled, Value: "true"},
                               {Key: deletion_protection.enabled, Value: "false"}]
  Tcp:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Protocol: TCP
      Port: 8080
      VpcId: !Ref Vpc
      Targets: [{Id: !Ref Web}, {Id: !Ref Bare, Port: 9090}]
      HealthCheckProtocol: HTTP
      HealthCheckPath: /health
      HealthCheckPort: "8080"
      HealthCheckIntervalSeconds: 5
      HealthyThresholdCount: 2
      UnhealthyThresholdCount: "3"
      TargetGroupAttributes:
        - {Key: preserve_client_ip.enabled, Value: "false"}
        - {Key: proxy_protocol_v2.enabled, Value: "true"}
        - {Key: target_health_state.unhealthy.connection_termination.enabled, Value: "false"}
        - {Key: deregistration_delay.timeout_seconds, Value: "10"}
  Ips:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Protocol: UDP
      Port: 5000
      TargetType: ip
      Targets: [{Id: 10.0.1.99}, {Id: !GetAtt Bare.PrivateIp, Port: 5001}]
  TcpListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 80
      Protocol: TCP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Tcp}]
      ListenerAttributes: [{Key: tcp.idle_timeout.seconds, Value: "600"}]
  UdpListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 5000
      Protocol: UDP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Ips}]
  Unused:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Protocol: TCP, Port: 1}
"""
)


def test_network_load_balancer_listeners_and_target_groups() -> None:
    got = load(NLB)
    assert got.ok, got.issues
    nlb = got.translation.topology["vpcs"]["vpc"]["load_balancers"]["nlb"]
    assert nlb["type"] == "network" and nlb["scheme"] == "internal" and nlb["cross_zone"] is True
    assert nlb["subnets"] == ["subnet-a", "subnet-b"]
    assert nlb["listeners"] == [
        {"port": 80, "protocol": "tcp", "target_group": "tcp", "idle_timeout": 600},
        {"port": 5000, "protocol": "udp", "target_group": "ips"},
    ]
    assert nlb["target_groups"]["tcp"] == {
        "protocol": "tcp",
        "port": 8080,
        "target_type": "instance",
        "targets": ["web", {"host": "bare", "port": 9090}],
        "health_check": {
            "protocol": "http",
            "port": 8080,
            "path": "/health",
            "interval": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 3,
        },
        "preserve_client_ip": False,
        "proxy_protocol_v2": True,
        "unhealthy_connection_termination": False,
    }
    assert nlb["target_groups"]["ips"]["targets"] == ["10.0.1.99", {"host": "bare", "port": 5001}]
    assert "unused" not in nlb["target_groups"]
    assert any("used by no listener" in i for i in got.translation.ignored)


ALB = (
    HOSTS
    + """
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: [!Ref SubnetA, !Ref SubnetB]
      SecurityGroups: [!Ref Lb]
      LoadBalancerAttributes: [{Key: idle_timeout.timeout_seconds, Value: 30}]
  Web1:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Protocol: HTTP
      Port: 8080
      Targets: [{Id: !Ref Web}]
      Matcher: {HttpCode: "200-299"}
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - {Type: fixed-response, FixedResponseConfig: {StatusCode: "404", MessageBody: nope}}
  ApiRule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Http
      Priority: 5
      Conditions:
        - {Field: path-pattern, Values: ["/api/*"]}
        - {Field: host-header, HostHeaderConfig: {Values: ["*.example.com"]}}
        - {Field: http-request-method, HttpRequestMethodConfig: {Values: [GET]}}
        - {Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-Env, Values: [prod]}}
      Actions: [{Type: forward, ForwardConfig: {TargetGroups: [{TargetGroupArn: !Ref Web1}]}}]
"""
)


def test_application_load_balancer_rules() -> None:
    got = load(ALB)
    assert got.ok, got.issues
    alb = got.translation.topology["vpcs"]["vpc"]["load_balancers"]["alb"]
    # CloudFormation's defaults: type application, scheme internet-facing.
    assert alb["type"] == "application" and alb["scheme"] == "internet-facing"
    assert alb["security_groups"] == ["lb"] and alb["idle_timeout"] == 30
    assert alb["listeners"] == [
        {
            "port": 80,
            "protocol": "http",
            "default_action": {"fixed_response": {"status": 404, "body": "nope"}},
            "rules": [
                {
                    "priority": 5,
                    "conditions": {
                        "path": ["/api/*"],
                        "host": ["*.example.com"],
                        "http_method": ["GET"],
                        "http_header": {"X-Env": ["prod"]},
                    },
                    "action": {"forward": "web1"},
                }
            ],
        }
    ]
    assert alb["target_groups"]["web1"]["health_check"] == {"matcher": "200-299"}


def test_load_balancer_errors() -> None:
    text = "\n".join(
        errors(
            NET
            + """
  Gwlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: gateway, Subnets: [!Ref SubnetA]}
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: network, Subnets: [!Ref SubnetA]}
  Tls:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Protocol: TLS, Port: 443}
  TlsListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 443
      Protocol: TCP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Tls}]
  Redirect:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 80
      DefaultActions: [{Type: redirect}]
"""
        )
    )
    assert "Resources.Gwlb.Properties.Type" in text and "'gateway' is not emulated" in text
    assert "Resources.Tls.Properties.Protocol" in text and "'TLS' is not emulated" in text
    assert "Resources.Redirect.Properties.DefaultActions[0].Type" in text


def test_nlb_security_groups() -> None:
    text = NLB.replace(
        "      Scheme: internal\n      SubnetMappings",
        "      Scheme: internal\n      SecurityGroups: [!Ref Lb]\n"
        '      EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: "off"\n'
        "      SubnetMappings",
    )
    got = load(text)
    assert got.ok, got.issues
    nlb = got.translation.topology["vpcs"]["vpc"]["load_balancers"]["nlb"]
    assert nlb["security_groups"] == ["lb"]
    assert nlb["enforce_security_group_inbound_rules_on_private_link_traffic"] == "off"
    # The groups are emulated on packets now: nothing to warn about on the NLB.
    assert not any("Resources.Nlb" in str(w) for w in got.warnings), got.warnings


NACLS = (
    NET
    + """
  Web:
    Type: AWS::EC2::NetworkAcl
    Properties: {VpcId: !Ref Vpc}
  WebIn:
    Type: AWS::EC2::NetworkAclEntry
    Properties: {NetworkAclId: !Ref Web, RuleNumber: 100, Protocol: 6, RuleAction: allow,
                 CidrBlock: 0.0.0.0/0, PortRange: {From: 80, To: 80}}
  WebOut:
    Type: AWS::EC2::NetworkAclEntry
    Properties: {NetworkAclId: !Ref Web, RuleNumber: 100, Protocol: 6, RuleAction: allow,
                 Egress: true, CidrBlock: 0.0.0.0/0, PortRange: {From: 1024, To: 65535}}
  WebPing:
    Type: AWS::EC2::NetworkAclEntry
    Properties: {NetworkAclId: !Ref Web, RuleNumber: 110, Protocol: 1, RuleAction: deny,
                 CidrBlock: 10.0.0.0/8, Icmp: {Code: -1, Type: -1}}
  WebA:
    Type: AWS::EC2::SubnetNetworkAclAssociation
    Properties: {SubnetId: !Ref SubnetA, NetworkAclId: !Ref Web}
  DenyBad:
    Type: AWS::EC2::NetworkAclEntry
    Properties: {NetworkAclId: !GetAtt Vpc.DefaultNetworkAcl, RuleNumber: 90, Protocol: -1,
                 RuleAction: deny, CidrBlock: 192.0.2.0/24}
"""
)


def test_network_acls() -> None:
    got = load(NACLS)
    assert got.ok, got.issues
    acls = got.translation.topology["vpcs"]["vpc"]["network_acls"]
    assert acls["web"] == {
        "inbound": [
            {"rule": 100, "action": "allow", "protocol": "tcp", "cidr": "0.0.0.0/0", "port": 80},
            {"rule": 110, "action": "deny", "protocol": "icmp", "cidr": "10.0.0.0/8"},
        ],
        "outbound": [
            {
                "rule": 100,
                "action": "allow",
                "protocol": "tcp",
                "cidr": "0.0.0.0/0",
                "port": "1024-65535",
            }
        ],
        "subnets": ["subnet-a"],
    }
    allow = {"rule": 100, "action": "allow", "protocol": "all", "cidr": "0.0.0.0/0"}
    assert acls["default"] == {
        "inbound": [
            allow,
            {"rule": 90, "action": "deny", "protocol": "all", "cidr": "192.0.2.0/24"},
        ],
        "outbound": [allow],
    }


PRIVATELINK = (
    NLB
    + """
  Svc:
    Type: AWS::EC2::VPCEndpointService
    Properties: {NetworkLoadBalancerArns: [!Ref Nlb], AcceptanceRequired: false}
  SvcPermissions:
    Type: AWS::EC2::VPCEndpointServicePermissions
    Properties: {ServiceId: !Ref Svc, AllowedPrincipals: ["arn:aws:iam::444455556666:root"]}
  Consumer:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  ConsumerA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Consumer, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1a}
  ToSvc:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcEndpointType: Interface
      VpcId: !Ref Consumer
      ServiceName: !Sub "com.amazonaws.vpce.${AWS::Region}.${Svc}"
      SubnetIds: [!Ref ConsumerA]
  ExecuteApi:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcEndpointType: Interface
      VpcId: !Ref Vpc
      ServiceName: com.amazonaws.us-east-1.execute-api
      SubnetIds: [!Ref SubnetA]
      SecurityGroupIds: [!Ref App]
      PrivateDnsEnabled: true
  S3:
    Type: AWS::EC2::VPCEndpoint
    Properties: {VpcId: !Ref Vpc, ServiceName: com.amazonaws.us-east-1.s3}
  Ssm:
    Type: AWS::EC2::VPCEndpoint
    Properties: {VpcId: !Ref Vpc, VpcEndpointType: Interface,
                 ServiceName: com.amazonaws.us-east-1.ssm, SubnetIds: [!Ref SubnetA]}
"""
)


def test_privatelink_endpoint_services_and_endpoints() -> None:
    got = load(PRIVATELINK)
    assert got.ok, got.issues
    t = got.translation.topology
    assert t["vpcs"]["vpc"]["endpoint_services"]["svc"] == {
        "load_balancer": "nlb",
        "acceptance_required": False,
        "allowed_principals": ["arn:aws:iam::444455556666:root"],
    }
    assert t["vpcs"]["consumer"]["endpoints"]["to-svc"] == {
        "service": "vpc/svc",
        "type": "interface",
        "subnets": ["consumer-a"],
        "private_dns": False,
    }
    assert t["vpcs"]["vpc"]["endpoints"]["execute-api"] == {
        "service": "execute-api",
        "type": "interface",
        "subnets": ["subnet-a"],
        "security_groups": ["app"],
        "private_dns": True,
    }
    assert sorted(s.logical_id for s in got.translation.skipped) == ["S3", "Ssm"]


def test_cloud_map() -> None:
    got = load(
        HOSTS
        + """
  Ns:
    Type: AWS::ServiceDiscovery::PrivateDnsNamespace
    Properties: {Name: shop.local, Vpc: !Ref Vpc}
  HttpNs:
    Type: AWS::ServiceDiscovery::HttpNamespace
    Properties: {Name: api}
  Svc:
    Type: AWS::ServiceDiscovery::Service
    Properties:
      Name: orders
      DnsConfig: {NamespaceId: !GetAtt Ns.Id, DnsRecords: [{Type: A, TTL: 10}]}
  I1:
    Type: AWS::ServiceDiscovery::Instance
    Properties:
      ServiceId: !Ref Svc
      InstanceId: web
      InstanceAttributes: {AWS_INSTANCE_IPV4: !GetAtt Bare.PrivateIp, AWS_INSTANCE_PORT: "8080",
                           AWS_INIT_HEALTH_STATUS: UNHEALTHY, stage: prod}
  I2:
    Type: AWS::ServiceDiscovery::Instance
    Properties:
      ServiceId: !Ref Svc
      InstanceAttributes: {AWS_INSTANCE_IPV4: 10.0.2.77, AWS_INSTANCE_PORT: 81}
"""
    )
    assert got.ok, got.issues
    cm = got.translation.topology["cloud_map"]
    assert cm["namespaces"] == {
        "shop.local": {"type": "dns_private", "vpc": "vpc"},
        "api": {"type": "http"},
    }
    assert cm["services"]["orders"] == {
        "namespace": "shop.local",
        "instances": {
            "web": {
                "host": "bare",
                "port": 8080,
                "health": "unhealthy",
                "attributes": {"stage": "prod"},
            },
            "i2": {"ip": "10.0.2.77", "port": 81},
        },
    }


def test_no_effect_and_skipped_types() -> None:
    got = load(
        NET
        + """
  Igw: {Type: AWS::EC2::InternetGateway}
  Attach:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}
  Rt:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  Default:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
  Assoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {RouteTableId: !Ref Rt, SubnetId: !Ref SubnetA}
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Role: !GetAtt Role.Arn}
  Role:
    Type: AWS::IAM::Role
    Properties: {AssumeRolePolicyDocument: {}}
  Custom:
    Type: Custom::Thing
    Properties: {ServiceToken: !GetAtt Fn.Arn}
"""
    )
    assert got.ok, got.issues
    skipped = {s.logical_id: s.why for s in got.translation.skipped}
    assert set(skipped) == {"Fn", "Role", "Custom"}
    assert "IAM" in skipped["Role"]
    assert any(i.startswith("AWS::EC2::Route:") for i in got.translation.ignored)
    strict = load(
        NET
        + """
  Role:
    Type: AWS::IAM::Role
    Properties: {AssumeRolePolicyDocument: {}}
""",
        strict=True,
    )
    assert [str(i) for i in strict.issues] == [
        "Resources.Role (line 15): --strict: AWS::IAM::Role is not emulated: IAM is not "
        "emulated (no identities: requests are unsigned)"
    ]


def test_logical_ids_become_unique_topology_names() -> None:
    from hyperplane_emu.cfn.naming import kebab

    assert kebab("OrdersNlbB1C2D3E4") == "orders-nlb"
    assert kebab("VPCEndpoint") == "vpc-endpoint"
    assert kebab("App1") == "app1"
    assert kebab("X" * 40) == "x" * 32
    t = topology(
        NET
        + """
  Fabric:
    Type: AWS::EC2::Instance
    Properties: {SubnetId: !Ref SubnetA}
  VpcB1C2D3E4:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.1.0.0/16}
"""
    )
    assert "fabric-1" in t["vpcs"]["vpc"]["hosts"]  # `fabric` is the emulator's namespace
    assert set(t["vpcs"]) == {"vpc", "vpc-2"}


def test_flow_logs() -> None:
    got = load(
        HOSTS
        + """
  VpcLog:
    Type: AWS::EC2::FlowLog
    Properties: {ResourceType: Subnet, ResourceId: !Ref SubnetA, TrafficType: ALL,
                 LogDestinationType: cloud-watch-logs, LogGroupName: x}
  NicLog:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceType: NetworkInterface
      ResourceId: !Ref Nic
      TrafficType: ALL
      MaxAggregationInterval: 60
      LogFormat: "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"
"""
    )
    assert got.ok, got.issues
    assert got.translation.topology["vpcs"]["vpc"]["flow_logs"] == [
        {"name": "vpc-log", "resource": "subnet/subnet-a"},
        {
            "name": "nic-log",
            "resource": "host/on-nic",
            "max_aggregation_interval": 60,
            "format": "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}",
        },
    ]
