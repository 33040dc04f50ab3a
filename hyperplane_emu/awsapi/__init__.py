"""The AWS API in front of the emulator: boto3 and the AWS CLI build topologies.

    svc = service.Service("aws", "us-east-1", runtime=reconcile.Runtime())
    svc.start(port=4566)          # AWS_ENDPOINT_URL=http://127.0.0.1:4566

moto answers the API (ids, ARNs, most validation); `front` keeps what moto
drops and answers what it lacks; `reconcile` turns the state, read back through
describe/get calls (`export`), into a running topology. docs/aws-api.md lists
the calls and how they differ from AWS. Nothing is imported here: `hyperplane-emu`
registers its `serve`/`export` verbs from `awsapi.cli` without loading moto or botocore.
"""
