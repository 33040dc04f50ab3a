"""hyperplane-emu: a packet-level emulator of the AWS networking under API Gateway.

The public Python API (needs root, like the CLI verbs that touch the kernel):

    import hyperplane_emu

    with hyperplane_emu.up("examples/private-rest-api.yaml") as topo:
        r = topo.request("client", f"https://{topo.api('orders').hostname}/prod/orders")
        assert r.status == 200

`up`, `attach`, `load` and the record types live in `hyperplane_emu.api`; they are
imported on first use so that the emulator's own processes (fabric, services),
which import this package too, do not pay for them. The pytest plugin is
`hyperplane_emu.pytest_plugin` (a `hyperplane` fixture, a `topology` marker).

The package map follows the layer map of docs/architecture.md:
spec (YAML -> model) -> plan (model -> concrete) -> realize (kernel objects)
-> fabric (the packet rewriter) -> services (API Gateway, ALB, DNS, echo)
with runtime (state dir, processes) and cli (click) across them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from hyperplane_emu.prefix import PREFIX

__all__ = [
    "PREFIX",
    "Capture",
    "Eni",
    "FlowLogRecord",
    "Hop",
    "Host",
    "NotRoot",
    "Response",
    "Topology",
    "Trace",
    "attach",
    "load",
    "up",
]

if TYPE_CHECKING:
    from hyperplane_emu.api import (
        Capture,
        Eni,
        FlowLogRecord,
        Hop,
        Host,
        NotRoot,
        Response,
        Topology,
        Trace,
        attach,
        load,
        up,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hyperplane_emu import api

        return getattr(api, name)
    raise AttributeError(f"module 'hyperplane_emu' has no attribute {name!r}")
