"""hyperplane-emu: a packet-level emulator of the AWS networking under API Gateway.

The package map follows the layer map of docs/architecture.md:
spec (YAML -> model) -> plan (model -> concrete) -> realize (kernel objects)
-> fabric (the packet rewriter) -> services (API Gateway, ALB, DNS, echo)
with runtime (state dir, processes) and cli (click) across them.
"""

__version__ = "0.1.0"

PREFIX = "he-"
"""Every kernel object and process the emulator creates carries this prefix."""
