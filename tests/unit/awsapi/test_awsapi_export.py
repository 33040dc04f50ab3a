"""State -> topology document: the seed's boto3 scripts, read back and planned (no root)."""

from __future__ import annotations

from typing import Any

import yaml

from hyperplane_emu import plan as planlib
from hyperplane_emu import spec
from hyperplane_emu.plan import ids


def _planned(service: Any) -> tuple[Any, Any]:
    ex = service.export()
    checked = spec.validate_text(yaml.safe_dump(ex.doc, sort_keys=False))
    assert checked.ok, [f"{i.path}: {i.message}" for i in checked.issues]
    with ids.overrides(ex.overrides):
        return ex, planlib.build(checked.topology)


def test_the_private_rest_api_script_becomes_a_valid_topology_with_the_apis_ids(
    service: Any, client: Any
) -> None:
    import private_rest_api

    out = private_rest_api.main()
    ex, p = _planned(service)
    vpc = ex.doc["vpcs"][out["vpc"]]
    assert set(vpc["hosts"]) == {"client", "app1", "app2"}
    assert vpc["hosts"]["app1"]["serve"] == ["echo:8080"]
    nlb = vpc["load_balancers"]["orders-nlb"]
    assert nlb["type"] == "network" and nlb["target_groups"]["orders"]["targets"] == [
        "app1",
        "app2",
    ]
    assert vpc["security_groups"]["vpce"]["ingress"] == [
        {"protocol": "tcp", "port": 443, "source": "sg/client"}
    ]
    api = ex.doc["apis"]["orders"]
    assert api["endpoint"] == "private"
    route = api["routes"]["GET /orders"]["integration"]
    assert route["vpc_link"] == f"link-{out['vpc_link'].lower()}"  # connectionId kept
    # The plan carries the ids the API answered with.
    assert next(a for a in p.apis.values() if a.name == "orders").id == out["api"]
    assert any(e.id == out["vpce"] for e in p.endpoints.values())
    client_eni = client("ec2").describe_instances(InstanceIds=[out["client"]])["Reservations"][0][
        "Instances"
    ][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert p.hosts["client"].enis == (client_eni,)
    assert p.vpcs[out["vpc"]].id == out["vpc"]
    assert ex.aliases[out["client"]] == "client"
    plan_lb = next(iter(p.load_balancers.values()))
    assert plan_lb.arn.rsplit("/", 1)[1] == out["nlb"].rsplit("/", 1)[1]
    # The endpoint the API is associated with (vpcEndpointIds), and its policy, name the
    # endpoint by the topology's own reference.
    assert api["vpc_endpoint_ids"] == [ex.aliases[out["vpce"]]]
    assert api["policy"][0]["source_vpce"] == [ex.aliases[out["vpce"]]]


def test_the_http_api_script_becomes_alb_and_cloud_map_routes(service: Any) -> None:
    import http_api_vpc_link

    out = http_api_vpc_link.main()
    ex, p = _planned(service)
    api = ex.doc["apis"]["shop"]
    assert api["type"] == "http" and list(api["stages"]) == ["$default"]
    assert api["routes"]["GET /orders"]["integration"]["uri"] == f"{out['vpc']}/orders-alb:80"
    assert api["routes"]["ANY /pay"]["integration"]["uri"] == "cloud_map/internal/payments"
    assert ex.doc["cloud_map"]["namespaces"]["internal"] == {
        "type": "dns_private",
        "vpc": out["vpc"],
    }
    assert next(a for a in p.apis.values() if a.name == "shop").id == out["api"]


def test_what_the_topology_cannot_say_is_a_note_not_a_silent_drop(
    service: Any, client: Any
) -> None:
    client("ec2").create_vpc(CidrBlock="10.9.0.0/16")
    client("apigatewayv2").create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    ex = service.export()
    assert any("WEBSOCKET APIs are not emulated" in n for n in ex.notes)


def test_an_api_without_a_stage_waits_with_a_note(service: Any, client: Any) -> None:
    client("ec2").create_vpc(CidrBlock="10.8.0.0/16")
    client("apigateway").create_rest_api(name="later")
    ex = service.export()
    assert "apis" not in ex.doc and any("no stage yet" in n for n in ex.notes)


def test_a_rest_api_over_a_vpc_link_v2_keeps_its_integration_target(
    service: Any, client: Any
) -> None:
    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subs = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.4.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    app = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subs[0])[
        "Instances"
    ][0]["InstanceId"]
    alb = elbv2.create_load_balancer(
        Name="web-alb", Type="application", Scheme="internal", Subnets=subs
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": app}])
    elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])  # fmt: skip
    link = client("apigatewayv2").create_vpc_link(Name="hp", SubnetIds=subs)["VpcLinkId"]
    ag = client("apigateway")
    api = ag.create_rest_api(name="shop")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(
        restApiId=api, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
        integrationHttpMethod="GET", uri="http://web-alb/", connectionType="VPC_LINK",
        connectionId=link, integrationTarget=alb,
    )  # fmt: skip
    ag.create_deployment(restApiId=api, stageName="prod")
    ex, p = _planned(service)
    integ = ex.doc["apis"]["shop"]["routes"]["GET /"]["integration"]
    assert integ["integration_target"] == f"{vpc}/web-alb"
    assert ex.doc["apis"]["shop"]["vpc_links"][integ["vpc_link"]]["vpc"] == vpc


def test_endpoint_dns_names_and_eni_addresses_are_the_data_planes(
    service: Any, client: Any
) -> None:
    import private_rest_api

    out = private_rest_api.main()
    _, p = _planned(service)
    service.front.built = lambda: p
    ep = next(e for e in p.endpoints.values() if e.id == out["vpce"])
    ec2 = client("ec2")
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[out["vpce"]])["VpcEndpoints"][0]
    names = [d["DnsName"] for d in described["DnsEntries"]]
    assert names == [*ep.dns_names, *ep.private_dns_names]
    assert any(n.endswith(".vpce.amazonaws.com") for n in names)
    ips = {e.id: e.ip for e in p.enis}
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=list(ep.enis))["NetworkInterfaces"]
    assert {e["NetworkInterfaceId"]: e["PrivateIpAddress"] for e in enis} == {
        i: ips[i] for i in ep.enis
    }
