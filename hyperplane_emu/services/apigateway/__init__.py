"""The API Gateway data plane (REST and HTTP APIs): a sans-IO core and a thin asyncio server.

    python -m hyperplane_emu.services.apigateway --config FILE [--ready-file PATH] [--name he-apigw]

Layout (see docs/apigateway.md):

- `config`      the JSON file the runtime writes -> frozen dataclasses (every error at once)
- `policy`      resource policies: parse once, evaluate per request (IAM semantics)
- `router`      which API a Host names, which resource/method a path selects
- `errors`      AWS-shaped error responses (status, body, x-amzn-ErrorType)
- `integration` upstream request headers/target and the client response headers
- `httpconfig`  the `type: http` entries (stages with $default, route keys, link targets)
- `httproutes`  HTTP API stage and most-specific route selection
- `httpapi`     HTTP API integrations: target choice, backend path, headers
- `dispatch`    one request in -> an error, a mock answer or an upstream request (pure)
- `server`      sockets, TLS, keep-alive, upstream connection pool, timeouts
- `ca`          a per-topology CA and the data plane's certificate
"""
