"""Endpoint connection decisions made through the API, pushed to the running fabric.

The plan starts each connection as the topology says (pendingAcceptance when
the service requires acceptance); `accept/reject_vpc_endpoint_connections`
change the front's record, and this makes the data plane agree, through the
same runtime call the `accept`/`reject` verbs use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("hyperplane_emu.awsapi")


def push(name: str, wanted: Mapping[str, Any], ex: Any) -> None:
    from hyperplane_emu.runtime import endpoints
    from hyperplane_emu.runtime.lifecycle import RuntimeFailure
    from hyperplane_emu.runtime.status import read_plan

    if not wanted:
        return
    state, p = read_plan(name)
    now = endpoints.states(state, p)
    for eid, conn in wanted.items():
        have = now.get(eid)
        if have is None or have == conn.state:
            continue
        verb = {"available": "accept", "rejected": "reject"}.get(conn.state)
        if verb is None:
            continue
        try:
            endpoints.decide(state, p, eid, verb)
            log.info("endpoint %s: %s -> %s", eid, have, conn.state)
        except RuntimeFailure as e:
            log.warning("endpoint %s: %s", eid, e)
