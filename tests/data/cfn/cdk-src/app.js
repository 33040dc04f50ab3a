// The seed's two architectures as CDK stacks. scripts/regen-cdk-fixtures synthesizes
// them (no AWS account needed) into tests/data/cfn/cdk/*.template.json.
'use strict';
const cdk = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const elbv2 = require('aws-cdk-lib/aws-elasticloadbalancingv2');
const targets = require('aws-cdk-lib/aws-elasticloadbalancingv2-targets');
const apigw = require('aws-cdk-lib/aws-apigateway');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const integrations = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const iam = require('aws-cdk-lib/aws-iam');
const sd = require('aws-cdk-lib/aws-servicediscovery');

function isolatedVpc(scope, cidr) {
  return new ec2.Vpc(scope, 'Vpc', {
    ipAddresses: ec2.IpAddresses.cidr(cidr),
    maxAzs: 2,
    natGateways: 0,
    restrictDefaultSecurityGroup: false,
    subnetConfiguration: [{ name: 'app', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
  });
}

function instance(scope, id, vpc, sg, subnetIndex, serve) {
  const i = new ec2.Instance(scope, id, {
    vpc,
    vpcSubnets: { subnets: [vpc.isolatedSubnets[subnetIndex]] },
    instanceType: new ec2.InstanceType('t3.micro'),
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    securityGroup: sg,
  });
  // What the emulator runs in the instance's namespace (no effect on AWS).
  if (serve) cdk.Tags.of(i).add('hyperplane-emu:serve', serve);
  return i;
}

class PrivateRestStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const vpc = isolatedVpc(this, '10.0.0.0/16');
    const clientSg = new ec2.SecurityGroup(this, 'ClientSg', { vpc, description: 'callers of the private API' });
    const vpceSg = new ec2.SecurityGroup(this, 'VpceSg', { vpc, description: 'execute-api interface endpoint' });
    vpceSg.addIngressRule(clientSg, ec2.Port.tcp(443), 'HTTPS from callers');
    const appSg = new ec2.SecurityGroup(this, 'AppSg', { vpc, description: 'orders service behind the NLB' });
    appSg.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(8080), 'NLB addresses (PrivateLink, health checks)');

    instance(this, 'Client', vpc, clientSg, 0);
    const app1 = instance(this, 'App1', vpc, appSg, 0, 'echo:8080');
    const app2 = instance(this, 'App2', vpc, appSg, 1, 'echo:8080');

    const nlb = new elbv2.NetworkLoadBalancer(this, 'OrdersNlb', {
      vpc, internetFacing: false, vpcSubnets: { subnets: vpc.isolatedSubnets },
    });
    const listener = nlb.addListener('Listener', { port: 80 });
    listener.addTargets('Orders', {
      port: 8080,
      targets: [new targets.InstanceTarget(app1, 8080), new targets.InstanceTarget(app2, 8080)],
      healthCheck: { protocol: elbv2.Protocol.TCP, interval: cdk.Duration.seconds(10) },
    });

    const endpoint = vpc.addInterfaceEndpoint('ExecuteApi', {
      service: ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
      privateDnsEnabled: true,
      securityGroups: [vpceSg],
      open: false,
    });

    const link = new apigw.VpcLink(this, 'OrdersLink', { targets: [nlb] });
    const api = new apigw.RestApi(this, 'OrdersApi', {
      endpointConfiguration: { types: [apigw.EndpointType.PRIVATE] },
      cloudWatchRole: false,
      deployOptions: { stageName: 'prod' },
      policy: new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({
          principals: [new iam.AnyPrincipal()],
          actions: ['execute-api:Invoke'],
          resources: ['execute-api:/*'],
          conditions: { StringEquals: { 'aws:SourceVpce': endpoint.vpcEndpointId } },
        })],
      }),
    });
    const viaLink = (path) => new apigw.Integration({
      type: apigw.IntegrationType.HTTP_PROXY,
      integrationHttpMethod: 'GET',
      uri: `http://${nlb.loadBalancerDnsName}${path}`,
      options: { connectionType: apigw.ConnectionType.VPC_LINK, vpcLink: link },
    });
    const orders = api.root.addResource('orders');
    orders.addMethod('GET', viaLink('/orders'));
    orders.addResource('{id}').addMethod('GET', viaLink('/orders/{id}'));
    new cdk.CfnOutput(this, 'InvokeUrl', { value: api.urlForPath('/orders') });
  }
}

class HttpApiStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const vpc = isolatedVpc(this, '10.1.0.0/16');
    const linkSg = new ec2.SecurityGroup(this, 'LinkSg', { vpc, description: 'VPC link ENIs', allowAllOutbound: false });
    const albSg = new ec2.SecurityGroup(this, 'AlbSg', { vpc, description: 'orders ALB' });
    const webSg = new ec2.SecurityGroup(this, 'WebSg', { vpc, description: 'ALB targets' });
    const stockSg = new ec2.SecurityGroup(this, 'StockSg', { vpc, description: 'NLB targets' });
    const paySg = new ec2.SecurityGroup(this, 'PaySg', { vpc, description: 'Cloud Map instances' });
    linkSg.addEgressRule(albSg, ec2.Port.tcp(80));
    linkSg.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(9000));
    linkSg.addEgressRule(paySg, ec2.Port.tcp(8080));
    albSg.addIngressRule(linkSg, ec2.Port.tcp(80));
    webSg.addIngressRule(albSg, ec2.Port.tcp(8080));
    stockSg.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(9000));
    paySg.addIngressRule(linkSg, ec2.Port.tcp(8080));

    const web1 = instance(this, 'Web1', vpc, webSg, 0, 'echo:8080');
    const web2 = instance(this, 'Web2', vpc, webSg, 1, 'echo:8080');
    const stock1 = instance(this, 'Stock1', vpc, stockSg, 0, 'echo:9000');
    const pay1 = instance(this, 'Pay1', vpc, paySg, 0, 'echo:8080');
    const pay2 = instance(this, 'Pay2', vpc, paySg, 1, 'echo:8080');

    const alb = new elbv2.ApplicationLoadBalancer(this, 'OrdersAlb', {
      vpc, internetFacing: false, securityGroup: albSg, vpcSubnets: { subnets: vpc.isolatedSubnets },
    });
    const albListener = alb.addListener('Http', { port: 80, open: false });
    albListener.addTargets('Web', {
      port: 8080, protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [new targets.InstanceTarget(web1, 8080), new targets.InstanceTarget(web2, 8080)],
      healthCheck: { path: '/' },
    });

    const nlb = new elbv2.NetworkLoadBalancer(this, 'StockNlb', {
      vpc, internetFacing: false, vpcSubnets: { subnets: vpc.isolatedSubnets },
    });
    const nlbListener = nlb.addListener('Tcp', { port: 9000 });
    nlbListener.addTargets('Stock', {
      port: 9000, targets: [new targets.IpTarget(stock1.instancePrivateIp, 9000)],
    });

    const namespace = new sd.PrivateDnsNamespace(this, 'Internal', { name: 'internal', vpc });
    const payments = namespace.createService('Payments', { name: 'payments', dnsRecordType: sd.DnsRecordType.A });
    payments.registerIpInstance('Pay1Instance', { ipv4: pay1.instancePrivateIp, port: 8080, customAttributes: { stage: 'prod' } });
    payments.registerIpInstance('Pay2Instance', { ipv4: pay2.instancePrivateIp, port: 8080, customAttributes: { stage: 'prod' } });

    const vpcLink = new apigwv2.VpcLink(this, 'ShopLink', {
      vpc, subnets: { subnets: vpc.isolatedSubnets }, securityGroups: [linkSg],
    });
    const api = new apigwv2.HttpApi(this, 'ShopApi', { createDefaultStage: true });
    api.addRoutes({
      path: '/orders', methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpAlbIntegration('Orders', albListener, { vpcLink }),
    });
    api.addRoutes({
      path: '/stock/{item}', methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpNlbIntegration('Stock', nlbListener, { vpcLink }),
    });
    api.addRoutes({
      path: '/pay', methods: [apigwv2.HttpMethod.ANY],
      integration: new integrations.HttpServiceDiscoveryIntegration('Pay', payments, { vpcLink }),
    });
    new cdk.CfnOutput(this, 'ApiUrl', { value: api.apiEndpoint });
  }
}

const app = new cdk.App({ outdir: process.argv[2] || 'cdk.out', analyticsReporting: false });
new PrivateRestStack(app, 'CdkPrivateRest', { analyticsReporting: false });
new HttpApiStack(app, 'CdkHttpApi', { analyticsReporting: false });
app.synth();
