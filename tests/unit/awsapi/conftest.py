"""A `serve` without the data plane (no root): moto + front + reconciler that only plans."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "boto3"


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from hyperplane_emu.awsapi.service import Service

    svc = Service("aws", "us-east-1", quiet=0.05)
    svc.reset()
    url = svc.start()
    for k, v in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield svc
    svc.stop()
    for mod in ("private_rest_api", "http_api_vpc_link"):
        sys.modules.pop(mod, None)


@pytest.fixture
def client(service: Any) -> Any:
    def make(name: str) -> Any:
        return boto3.client(name, endpoint_url=service.url, region_name="us-east-1")

    return make
