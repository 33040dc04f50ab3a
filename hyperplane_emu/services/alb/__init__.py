"""Application Load Balancer data plane: one process per ALB (docs/alb.md).

`python -m hyperplane_emu.services.alb --plan plan.json --load-balancer VPC/NAME --node ENI`.
The sans-IO core is
`rules` (listener rules), `targets` (health state, target choice) and `headers`
(X-Forwarded-*, X-Amzn-Trace-Id); `health` probes targets, `server` owns the
sockets, `errors` writes the ALB's own answers, `config` picks this node's view of the plan.
"""
