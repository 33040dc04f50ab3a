"""API Gateway resources: REST trees, policies, stages, VPC links V1/V2, HTTP APIs, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from cfn_helpers import NET, errors, load

LB = (
    NET
    + """
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: network, Scheme: internal, Subnets: [!Ref SubnetA, !Ref SubnetB]}
  Tg:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Protocol: TCP, Port: 8080, TargetType: ip, Targets: [{Id: 10.0.1.50}]}
  Tcp:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 80
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Tg}]
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: application, Scheme: internal, Subnets: [!Ref SubnetA, !Ref SubnetB]}
  Web:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Protocol: HTTP, Port: 8080, TargetType: ip, Targets: [{Id: 10.0.2.50}]}
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Port: 80
      Protocol: HTTP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Web}]
  Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcEndpointType: Interface
      VpcId: !Ref Vpc
      ServiceName: !Sub com.amazonaws.${AWS::Region}.execute-api
      SubnetIds: [!Ref SubnetA]
      PrivateDnsEnabled: true
  Legacy:
    Type: AWS::ApiGateway::VpcLink
    Properties: {Name: legacy, TargetArns: [!Ref Nlb]}
  Hyper:
    Type: AWS::ApiGatewayV2::VpcLink
    Properties: {Name: hyper, SubnetIds: [!Ref SubnetA, !Ref SubnetB]}
"""
)

REST = (
    LB
    + """
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      EndpointConfiguration: {Types: [PRIVATE]}
      Policy:
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: execute-api:Invoke
            Resource: [!Sub "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:*/*/GET/v1/*"]
            Condition:
              StringEquals: {aws:SourceVpce: [!Ref Endpoint], aws:sourceVpc: !Ref Vpc}
          - Effect: Deny
            Principal: "*"
            Action: execute-api:Invoke
            Resource: execute-api:/*
            Condition: {IpAddress: {aws:VpcSourceIp: 10.0.2.0/24}}
  V1:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: v1}
  Orders:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref V1, PathPart: orders}
  Proxy:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: "{proxy+}"}
  GetOrders:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Orders
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: HTTP_PROXY
        ConnectionType: VPC_LINK
        ConnectionId: !Ref Legacy
        Uri: !Sub "http://${Nlb.DNSName}/orders"
        TimeoutInMillis: 5000
  PostOrders:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Orders
      HttpMethod: POST
      AuthorizationType: AWS_IAM
      Integration:
        Type: HTTP_PROXY
        ConnectionType: VPC_LINK
        ConnectionId: !GetAtt Hyper.VpcLinkId
        IntegrationTarget: !Ref Alb
        Uri: http://web.internal/orders
  Root:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 202}'}
        IntegrationResponses: [{StatusCode: "202", ResponseTemplates: {application/json: "hi"}}]
  Any:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Proxy
      HttpMethod: ANY
      Integration: {Type: AWS_PROXY, Uri: arn:aws:lambda:x}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetOrders, PostOrders, Root, Any]
    Properties:
      RestApiId: !Ref Api
      StageName: beta
      StageDescription: {Variables: {link: !Ref Legacy}}
  Prod:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Api, DeploymentId: !Ref Deployment, StageName: prod}
"""
)


def test_rest_api_tree_links_policy_and_stages() -> None:
    got = load(REST)
    assert got.ok, [str(i) for i in got.issues]
    api = got.translation.topology["apis"]["api"]
    assert api["endpoint"] == "private"
    assert api["vpc_links"] == {
        "legacy": {"target": "vpc/nlb"},
        "hyper": {"vpc": "vpc", "subnets": ["subnet-a", "subnet-b"]},
    }
    assert api["routes"] == {
        "GET /v1/orders": {
            "integration": {
                "type": "HTTP_PROXY",
                "connection_type": "VPC_LINK",
                "connection_id": "legacy",
                "uri": api["routes"]["GET /v1/orders"]["integration"]["uri"],
                "timeout_ms": 5000,
            }
        },
        "POST /v1/orders": {
            "integration": {
                "type": "HTTP_PROXY",
                "connection_type": "VPC_LINK",
                "connection_id": "hyper",
                "uri": "http://web.internal/orders",
                "integration_target": "vpc/alb",
            }
        },
        "GET /": {"integration": {"type": "MOCK", "mock_body": "hi", "mock_status": 202}},
    }
    assert api["routes"]["GET /v1/orders"]["integration"]["uri"].startswith("http://internal-")
    assert api["stages"] == {"beta": {"variables": {"link": "legacy"}}, "prod": {}}
    assert api["policy"] == [
        {
            "effect": "Allow",
            "resources": ["GET /v1/*"],
            "source_vpce": ["vpc/endpoint"],
            "source_vpc": ["vpc"],
        },
        {"effect": "Deny", "vpc_source_ip": ["10.0.2.0/24"]},
    ]
    skipped = {s.logical_id: s.why for s in got.translation.skipped}
    assert set(skipped) == {"PostOrders", "Any"}
    assert "AWS_IAM" in skipped["PostOrders"] and "Lambda" in skipped["Any"]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("execute-api:/*", "*"),
        ("execute-api:/*/*/*", "*"),
        ("execute-api:/prod/GET/orders", "GET /orders"),
        ("execute-api:/*/POST/orders/*", "POST /orders/*"),
        ("arn:aws:execute-api:us-east-1:111122223333:abc/*/GET/", "GET /"),
        ("arn:aws:execute-api:us-east-1:111122223333:abc/*", "*"),
    ],
)
def test_policy_resource_patterns(resource: str, expected: str) -> None:
    from hyperplane_emu.cfn.apigw_policy import resource_pattern

    class Quiet:
        def ignore(self, _: str) -> None:
            pass

    assert resource_pattern(Quiet(), resource, "p") == expected  # type: ignore[arg-type]


def test_rest_api_errors() -> None:
    text = "\n".join(
        errors(
            LB
            + """
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      EndpointConfiguration: {Types: [REGIONAL]}
      Policy:
        Statement:
          - {Effect: Allow, Action: execute-api:Invoke, Resource: "*",
             Condition: {DateGreaterThan: {aws:CurrentTime: "2020-01-01"}}}
  Get:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      Integration: {Type: HTTP_PROXY, ConnectionType: VPC_LINK, ConnectionId: !Ref Nlb,
                    Uri: http://x/}
  Stage:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Api, StageName: prod}
"""
        )
    )
    assert "Policy.Statement[0].Condition.DateGreaterThan.aws:CurrentTime" in text
    assert "Resources.Get.Properties.Integration.ConnectionId" in text and "VPC link" in text


HTTP = (
    LB
    + """
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: shop, ProtocolType: HTTP}
  ToAlb:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP_PROXY
      ConnectionType: VPC_LINK
      ConnectionId: !Ref Hyper
      IntegrationUri: !Ref Http
      IntegrationMethod: ANY
      PayloadFormatVersion: "1.0"
      RequestParameters: {"overwrite:path": "$request.path", "append:header.x": "y"}
      TimeoutInMillis: 3000
  Public:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: HTTP_PROXY, IntegrationUri: "https://example.com/"}
  Lambda:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: arn:aws:lambda:x}
  R1:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      {ApiId: !Ref Api, RouteKey: "ANY /web/{proxy+}", Target: !Sub "integrations/${ToAlb}"}
  R2:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      {ApiId: !Ref Api, RouteKey: $default, Target: !Join ["/", [integrations, !Ref Public]]}
  R3:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: GET /fn, Target: !Sub "integrations/${Lambda}"}
  R4:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: GET /nothing}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true,
                 StageVariables: {env: prod}}
  Quick:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: quick, ProtocolType: HTTP, Target: "https://example.org/", RouteKey: GET /q}
  Ws:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: ws, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.a}
"""
)


def test_http_apis() -> None:
    got = load(HTTP)
    assert got.ok, [str(i) for i in got.issues]
    apis: dict[str, Any] = got.translation.topology["apis"]
    assert apis["api"] == {
        "type": "http",
        "vpc_links": {"hyper": {"vpc": "vpc", "subnets": ["subnet-a", "subnet-b"]}},
        "stages": {"$default": {"variables": {"env": "prod"}}},
        "routes": {
            "ANY /web/{proxy+}": {
                "integration": {
                    "vpc_link": "hyper",
                    "uri": "vpc/alb:80",
                    "timeout_ms": 3000,
                    "request_parameters": {"overwrite:path": "$request.path"},
                }
            },
            "$default": {"integration": {"uri": "https://example.com/"}},
        },
    }
    assert apis["quick"] == {
        "type": "http",
        "stages": {"$default": {}},
        "routes": {"GET /q": {"integration": {"uri": "https://example.org/"}}},
    }
    assert "ws" not in apis
    assert {s.logical_id for s in got.translation.skipped} == {"Lambda", "R4", "Ws"}


SAM_HTTP = (
    """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
"""
    + LB.split("Resources:\n", 1)[1]
    + """
  ShopApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: shop, version: "1"}
        paths:
          /orders:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                connectionType: VPC_LINK
                connectionId: !Ref Hyper
                uri: !Ref Http
                httpMethod: ANY
                payloadFormatVersion: "1.0"
"""
)


def test_sam_http_api_from_an_openapi_body() -> None:
    got = load(SAM_HTTP)
    assert got.ok, [str(i) for i in got.issues]
    (api,) = got.translation.topology["apis"].values()
    assert api["type"] == "http" and "$default" in api["stages"]
    assert api["routes"] == {
        "GET /orders": {"integration": {"vpc_link": "hyper", "uri": "vpc/alb:80"}}
    }
