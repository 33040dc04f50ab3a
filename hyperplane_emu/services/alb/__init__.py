"""Application Load Balancer data plane: one process per ALB (docs/alb.md).

`python -m hyperplane_emu.services.alb --config FILE`. The sans-IO core is
`rules` (listener rules), `targets` (health state, target choice) and `headers`
(X-Forwarded-*, X-Amzn-Trace-Id); `health` probes targets, `server` owns the
sockets, `errors` writes the ALB's own answers, `config` reads the JSON file.
"""
