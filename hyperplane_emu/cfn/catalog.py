"""Every resource type the translator reads, with the properties it uses and those it
accepts without effect. docs/cloudformation.md lists the same (a unit test keeps them
together); a property in neither list is refused, as CloudFormation refuses unknown ones.
Then the types read for their references only (`NO_EFFECT`) and those skipped with a
reason (`WHY_SKIPPED`, by prefix): the same docs page lists those too.
"""

from __future__ import annotations

TAGS = ("Tags",)

_SG_RULE = ("GroupId", "IpProtocol", "FromPort", "ToPort", "CidrIp", "CidrIpv6", "Description")
SG_INGRESS_RULE = (
    *_SG_RULE,
    "SourceSecurityGroupId",
    "SourceSecurityGroupOwnerId",
    "SourcePrefixListId",
    "SourceSecurityGroupName",
    "GroupName",
)
SG_EGRESS_RULE = (*_SG_RULE, "DestinationSecurityGroupId", "DestinationPrefixListId")
"""A rule resource's properties; a group's inline rules take the same (either direction)."""

CATALOG: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (properties translated, properties accepted without effect)
    "AWS::EC2::VPC": (
        ("CidrBlock", "EnableDnsSupport"),
        ("EnableDnsHostnames", "InstanceTenancy", *TAGS),
    ),
    "AWS::EC2::Subnet": (
        ("VpcId", "CidrBlock", "AvailabilityZone"),
        (
            "MapPublicIpOnLaunch",
            "AssignIpv6AddressOnCreation",
            "EnableDns64",
            "PrivateDnsNameOptionsOnLaunch",
            *TAGS,
        ),
    ),
    "AWS::EC2::SecurityGroup": (
        ("GroupDescription", "VpcId", "SecurityGroupIngress", "SecurityGroupEgress"),
        ("GroupName", *TAGS),
    ),
    "AWS::EC2::SecurityGroupIngress": (SG_INGRESS_RULE, ()),
    "AWS::EC2::SecurityGroupEgress": (SG_EGRESS_RULE, ()),
    "AWS::EC2::Instance": (
        (
            "SubnetId",
            "SecurityGroupIds",
            "SecurityGroups",
            "PrivateIpAddress",
            "SourceDestCheck",
            "NetworkInterfaces",
        ),
        (
            "ImageId",
            "InstanceType",
            "KeyName",
            "UserData",
            "IamInstanceProfile",
            "BlockDeviceMappings",
            "Monitoring",
            "EbsOptimized",
            "DisableApiTermination",
            "MetadataOptions",
            "LaunchTemplate",
            "PropagateTagsToVolumeOnCreation",
            "CreditSpecification",
            "InstanceInitiatedShutdownBehavior",
            "Volumes",
            "AvailabilityZone",
            "Tenancy",
            "PlacementGroupName",
            *TAGS,
        ),
    ),
    "AWS::EC2::NetworkInterface": (
        ("SubnetId", "GroupSet", "PrivateIpAddress", "SourceDestCheck"),
        ("Description", "InterfaceType", *TAGS),
    ),
    "AWS::EC2::NetworkAcl": (("VpcId",), TAGS),
    "AWS::EC2::NetworkAclEntry": (
        (
            "NetworkAclId",
            "RuleNumber",
            "Protocol",
            "RuleAction",
            "Egress",
            "CidrBlock",
            "Ipv6CidrBlock",
            "PortRange",
            "Icmp",
        ),
        (),
    ),
    "AWS::EC2::SubnetNetworkAclAssociation": (("SubnetId", "NetworkAclId"), ()),
    "AWS::EC2::FlowLog": (
        ("ResourceType", "ResourceId", "LogFormat", "MaxAggregationInterval", "TrafficType"),
        (
            "LogDestination",
            "LogDestinationType",
            "LogGroupName",
            "DeliverLogsPermissionArn",
            "DeliverCrossAccountRole",
            "DestinationOptions",
            *TAGS,
        ),
    ),
    "AWS::EC2::VPCEndpoint": (
        (
            "VpcId",
            "ServiceName",
            "VpcEndpointType",
            "SubnetIds",
            "SecurityGroupIds",
            "PrivateDnsEnabled",
        ),
        ("PolicyDocument", "RouteTableIds", "IpAddressType", "DnsOptions", *TAGS),
    ),
    "AWS::EC2::VPCEndpointService": (
        ("NetworkLoadBalancerArns", "AcceptanceRequired", "GatewayLoadBalancerArns"),
        (
            "ContributorInsightsEnabled",
            "PayerResponsibility",
            "SupportedIpAddressTypes",
            "SupportedRegions",
            *TAGS,
        ),
    ),
    "AWS::EC2::VPCEndpointServicePermissions": (("ServiceId", "AllowedPrincipals"), ()),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        (
            "Type",
            "Scheme",
            "Subnets",
            "SubnetMappings",
            "SecurityGroups",
            "LoadBalancerAttributes",
            "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
        ),
        (
            "Name",
            "IpAddressType",
            "EnablePrefixForIpv6SourceNat",
            "MinimumLoadBalancerCapacity",
            *TAGS,
        ),
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        (
            "Protocol",
            "Port",
            "TargetType",
            "Targets",
            "VpcId",
            "TargetGroupAttributes",
            "HealthCheckProtocol",
            "HealthCheckPort",
            "HealthCheckPath",
            "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds",
            "HealthyThresholdCount",
            "UnhealthyThresholdCount",
            "Matcher",
        ),
        ("Name", "IpAddressType", "ProtocolVersion", "HealthCheckEnabled", *TAGS),
    ),
    "AWS::ElasticLoadBalancingV2::Listener": (
        ("LoadBalancerArn", "Port", "Protocol", "DefaultActions", "ListenerAttributes"),
        ("SslPolicy", "Certificates", "AlpnPolicy", "MutualAuthentication"),
    ),
    "AWS::ElasticLoadBalancingV2::ListenerRule": (
        ("ListenerArn", "Priority", "Conditions", "Actions"),
        (),
    ),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": (
        ("Name", "Vpc"),
        ("Description", "Properties", *TAGS),
    ),
    "AWS::ServiceDiscovery::HttpNamespace": (("Name",), ("Description", *TAGS)),
    "AWS::ServiceDiscovery::Service": (
        ("Name", "NamespaceId", "DnsConfig"),
        ("Description", "HealthCheckCustomConfig", "HealthCheckConfig", "Type", *TAGS),
    ),
    "AWS::ServiceDiscovery::Instance": (("ServiceId", "InstanceId", "InstanceAttributes"), ()),
    "AWS::ApiGateway::RestApi": (
        ("EndpointConfiguration", "Policy", "Body", "BodyS3Location"),
        (
            "Name",
            "Description",
            "BinaryMediaTypes",
            "MinimumCompressionSize",
            "ApiKeySourceType",
            "FailOnWarnings",
            "Parameters",
            "CloneFrom",
            "Mode",
            "DisableExecuteApiEndpoint",
            *TAGS,
        ),
    ),
    "AWS::ApiGateway::Resource": (("RestApiId", "ParentId", "PathPart"), ()),
    "AWS::ApiGateway::Method": (
        ("RestApiId", "ResourceId", "HttpMethod", "Integration", "AuthorizationType"),
        (
            "AuthorizerId",
            "ApiKeyRequired",
            "MethodResponses",
            "OperationName",
            "RequestModels",
            "RequestParameters",
            "RequestValidatorId",
            "AuthorizationScopes",
        ),
    ),
    "AWS::ApiGateway::VpcLink": (("TargetArns",), ("Name", "Description", *TAGS)),
    "AWS::ApiGateway::Deployment": (
        ("RestApiId", "StageName", "StageDescription"),
        ("Description", "DeploymentCanarySettings"),
    ),
    "AWS::ApiGateway::Stage": (
        ("RestApiId", "StageName", "Variables"),
        (
            "DeploymentId",
            "Description",
            "MethodSettings",
            "TracingEnabled",
            "CacheClusterEnabled",
            "CacheClusterSize",
            "AccessLogSetting",
            "CanarySetting",
            "ClientCertificateId",
            "DocumentationVersion",
            *TAGS,
        ),
    ),
    "AWS::ApiGatewayV2::Api": (
        ("ProtocolType", "Body", "Target", "RouteKey"),
        (
            "Name",
            "Description",
            "CorsConfiguration",
            "DisableExecuteApiEndpoint",
            "DisableSchemaValidation",
            "FailOnWarnings",
            "Version",
            "ApiKeySelectionExpression",
            "RouteSelectionExpression",
            "BasePath",
            "CredentialsArn",
            "BodyS3Location",
            *TAGS,
        ),
    ),
    "AWS::ApiGatewayV2::VpcLink": (("SubnetIds", "SecurityGroupIds"), ("Name", *TAGS)),
    "AWS::ApiGatewayV2::Integration": (
        (
            "ApiId",
            "IntegrationType",
            "ConnectionType",
            "ConnectionId",
            "IntegrationUri",
            "TimeoutInMillis",
            "RequestParameters",
        ),
        (
            "Description",
            "IntegrationMethod",
            "PayloadFormatVersion",
            "CredentialsArn",
            "PassthroughBehavior",
            "TlsConfig",
            "ResponseParameters",
            "IntegrationSubtype",
            "ContentHandlingStrategy",
            "TemplateSelectionExpression",
            "RequestTemplates",
        ),
    ),
    "AWS::ApiGatewayV2::Route": (
        ("ApiId", "RouteKey", "Target", "AuthorizationType"),
        (
            "AuthorizerId",
            "ApiKeyRequired",
            "AuthorizationScopes",
            "OperationName",
            "RequestModels",
            "RequestParameters",
            "RouteResponseSelectionExpression",
            "ModelSelectionExpression",
        ),
    ),
    "AWS::ApiGatewayV2::Stage": (
        ("ApiId", "StageName", "StageVariables"),
        (
            "DeploymentId",
            "Description",
            "AutoDeploy",
            "DefaultRouteSettings",
            "RouteSettings",
            "AccessLogSettings",
            "ClientCertificateId",
            *TAGS,
        ),
    ),
    "AWS::ApiGatewayV2::Deployment": (("ApiId",), ("StageName", "Description")),
}

NO_EFFECT: dict[str, str] = {
    "AWS::EC2::InternetGateway": "the emulator routes inside a VPC with its local route only; "
    "internet clients reach API Gateway's regional front, not instances",
    "AWS::EC2::VPCGatewayAttachment": "attaches an internet gateway (see InternetGateway)",
    "AWS::EC2::RouteTable": "every subnet has the VPC's local route; there are no route-table "
    "keys in the topology yet",
    "AWS::EC2::Route": "routes other than the VPC's local route are not emulated",
    "AWS::EC2::SubnetRouteTableAssociation": "see RouteTable",
    "AWS::ApiGateway::Account": "CloudWatch logging role of API Gateway; no packet effect",
    "AWS::CDK::Metadata": "the CDK's version report",
}
"""Types the translator knows, checks the references of, and that change no packet here."""

WHY_SKIPPED: dict[str, str] = {
    "AWS::IAM::": "IAM is not emulated (no identities: requests are unsigned)",
    "AWS::Lambda::": "Lambda functions are not emulated (no code runs in the emulator)",
    "AWS::Logs::": "CloudWatch Logs are not emulated (flow logs go to the state directory)",
    "AWS::S3::": "S3 is not emulated",
    "AWS::SSM::": "Systems Manager is not emulated",
    "AWS::EC2::NatGateway": "NAT gateways are not emulated",
    "AWS::EC2::EIP": "Elastic IPs are not emulated",
    "AWS::ApiGateway::Authorizer": "authorizers are not emulated",
    "AWS::ApiGateway::ApiKey": "API keys are not emulated",
    "AWS::ApiGateway::UsagePlan": "usage plans are not emulated",
    "AWS::ApiGateway::DomainName": "custom domain names are not emulated",
    "AWS::ApiGateway::BasePathMapping": "custom domain names are not emulated",
    "AWS::ApiGatewayV2::Authorizer": "authorizers are not emulated",
    "AWS::ApiGatewayV2::DomainName": "custom domain names are not emulated",
    "AWS::ApiGatewayV2::ApiMapping": "custom domain names are not emulated",
    "AWS::CloudFormation::": "stack machinery (nested stacks, wait conditions) is not emulated",
    "Custom::": "custom resources run code in an AWS account",
    "AWS::CertificateManager::": "certificates are not emulated (no HTTPS listeners)",
    "AWS::Route53::": "Route 53 is not emulated (the VPC resolver answers the emulator's names)",
    "AWS::ECS::": "ECS is not emulated; model tasks as instances",
}


def why_skipped(rtype: str) -> str:
    for prefix, why in WHY_SKIPPED.items():
        if rtype.startswith(prefix):
            return why
    return "this resource type is not emulated"
