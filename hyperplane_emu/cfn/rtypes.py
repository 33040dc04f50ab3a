"""The CloudFormation resource types the translators refer to each other by.

One place for the type names, so that a translator of one service can name
another service's type (a listener's load balancer, an endpoint's subnets)
without importing that service's translator.
"""

from __future__ import annotations

VPC = "AWS::EC2::VPC"
SUBNET = "AWS::EC2::Subnet"
SG = "AWS::EC2::SecurityGroup"
SG_INGRESS = "AWS::EC2::SecurityGroupIngress"
SG_EGRESS = "AWS::EC2::SecurityGroupEgress"
INSTANCE = "AWS::EC2::Instance"
ENI = "AWS::EC2::NetworkInterface"
LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
ENDPOINT = "AWS::EC2::VPCEndpoint"
NACL = "AWS::EC2::NetworkAcl"
FLOW_LOG = "AWS::EC2::FlowLog"
NACL_ENTRY = "AWS::EC2::NetworkAclEntry"
NACL_ASSOCIATION = "AWS::EC2::SubnetNetworkAclAssociation"
SERVICE = "AWS::EC2::VPCEndpointService"
PERMISSIONS = "AWS::EC2::VPCEndpointServicePermissions"
NAMESPACE = "AWS::ServiceDiscovery::PrivateDnsNamespace"
HTTP_NAMESPACE = "AWS::ServiceDiscovery::HttpNamespace"
SD_SERVICE = "AWS::ServiceDiscovery::Service"
SD_INSTANCE = "AWS::ServiceDiscovery::Instance"
REST = "AWS::ApiGateway::RestApi"
RESOURCE = "AWS::ApiGateway::Resource"
METHOD = "AWS::ApiGateway::Method"
DEPLOYMENT = "AWS::ApiGateway::Deployment"
STAGE = "AWS::ApiGateway::Stage"
LINK_V1 = "AWS::ApiGateway::VpcLink"
HTTP = "AWS::ApiGatewayV2::Api"
LINK_V2 = "AWS::ApiGatewayV2::VpcLink"
INTEGRATION = "AWS::ApiGatewayV2::Integration"
ROUTE = "AWS::ApiGatewayV2::Route"
STAGE_V2 = "AWS::ApiGatewayV2::Stage"
DEPLOYMENT_V2 = "AWS::ApiGatewayV2::Deployment"
