"""Layer 2: the plan. `build(topology)` makes every address, id and name concrete."""

from hyperplane_emu.plan.build import PlanError, build
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.plan.serialize import PlanFormatError, from_json, to_json

__all__ = ["Plan", "PlanError", "PlanFormatError", "build", "from_json", "to_json"]
