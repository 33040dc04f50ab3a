"""The API Gateway data plane (REST and HTTP APIs): a sans-IO core and a thin asyncio server.

    python -m hyperplane_emu.services.apigateway --plan plan.json [--cert PEM --key PEM] ...

Layout (see docs/apigateway.md):

- `config`      the plan's view for this process (the plan's own `PlanApi` records, indexed)
- `policy`      resource policies: the plan's statements evaluated per request (IAM semantics)
- `router`      which API a Host names, which resource/method a path selects
- `errors`      AWS-shaped error responses (status, body, x-amzn-ErrorType)
- `integration` upstream request headers/target and the client response headers
- `httproutes`  HTTP API stage and most-specific route selection
- `httpapi`     HTTP API integrations: target choice, backend path, headers
- `dispatch`    one request in -> an error, a mock answer or an upstream request (pure)
- `server`      sockets, TLS, keep-alive, timeouts (listener and pool: services/httpio, upstream)
- `ca`          a per-topology CA and the data plane's certificate
"""
