"""Fixtures for the fabric core tests (helpers live in fabric_helpers.py)."""

from __future__ import annotations

import pytest
from fabric_helpers import make_plan

from hyperplane_emu.fabric.core import Fabric


@pytest.fixture
def fab() -> Fabric:
    return Fabric(make_plan())
