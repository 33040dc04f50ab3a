"""Stages of an API (`apis.<api>.stages`) and their stage variables.

Apart from `apis` because stage variables have rules of their own and are
checked against every route's uses (recorded in the `ApiScope`) once all
routes are read.

AWS facts behind the checks (API Gateway Developer Guide: stage variables, quotas):
stage names are [A-Za-z0-9_-], 1-128 characters (`$default` on HTTP APIs);
stage variable names [A-Za-z0-9_], values [A-Za-z0-9-._~:/?#&=,] up to 512.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec.apiscope import ApiScope
from hyperplane_emu.spec.model import Stage
from hyperplane_emu.spec.nodes import NULL, Ctx, MapView, describe, did_you_mean

STAGE_KEYS = ("variables",)
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
HTTP_DEFAULT_STAGE = "$default"
VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
VARIABLE_VALUE = re.compile(r"[A-Za-z0-9._~:/?#&=,-]{1,512}")
INT = "tag:yaml.org,2002:int"


@dataclass(frozen=True)
class StageEntry:
    stage: Stage
    path: str
    node: Node
    variable_nodes: dict[str, tuple[str, Node]]  # variable -> (path, value node)


def parse_stages(ctx: Ctx, view: MapView, api_type: str | None) -> dict[str, StageEntry] | None:
    """Stage name -> entry; a list of names or a mapping name -> {variables}."""
    node = view.get("stages")
    if node is None:
        return None
    path = view.path_of("stages")
    issues_before = len(ctx.issues)
    entries: list[tuple[str, str, Node, Node | None]] = []  # name, path, node, value
    if isinstance(node, SequenceNode):
        for item_path, item in ctx.sequence(node, path) or []:
            text = ctx.text(item, item_path, "a stage name")
            if text is not None:
                entries.append((text, item_path, item, None))
    elif isinstance(node, MappingNode):
        stages_view = MapView(ctx, node, path)
        entries = [(k, p, stages_view.key_node(k), v) for k, p, v in stages_view.items()]
    else:
        ctx.error(path, node, f"expected a list of stage names or a mapping, got {describe(node)}")
        return None
    if not entries and len(ctx.issues) == issues_before:
        ctx.error(path, node, "at least one stage is needed (an API is invoked through a stage)")
    result: dict[str, StageEntry] = {}
    for name, stage_path, stage_node, value in entries:
        good_name = _stage_name(ctx, name, stage_node, stage_path, api_type)
        if name in result:
            ctx.error(stage_path, stage_node, f"stage {name!r} is listed twice")
            continue
        variables: dict[str, tuple[str, Node]] | None = {}
        if value is not None:
            variables = _stage_value(ctx, value, stage_path)
        if good_name and variables is not None:
            stage = Stage(name, {k: _variable_text(v) for k, (_, v) in variables.items()})
            result[name] = StageEntry(stage, stage_path, stage_node, variables)
    return result if len(ctx.issues) == issues_before else None


def _stage_name(ctx: Ctx, name: str, node: Node, path: str, api_type: str | None) -> bool:
    if name == HTTP_DEFAULT_STAGE and api_type != "rest":
        return True
    if STAGE_NAME.fullmatch(name):
        return True
    if name == HTTP_DEFAULT_STAGE:
        message = "'$default' is an HTTP API stage; REST stage names are [A-Za-z0-9_-]"
    else:
        message = f"stage name {name!r} must be 1-128 characters of [A-Za-z0-9_-]"
    ctx.error(path, node, message)
    return False


def _stage_value(ctx: Ctx, node: Node, path: str) -> dict[str, tuple[str, Node]] | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    view.check_keys(STAGE_KEYS)
    variables_node = view.get("variables")
    if variables_node is None:
        return {}
    variables_view = ctx.mapping(variables_node, view.path_of("variables"), null_ok=True)
    if variables_view is None:
        return None
    result: dict[str, tuple[str, Node]] = {}
    for key, var_path, var_node in variables_view.items():
        if not VARIABLE_NAME.fullmatch(key):
            ctx.error(
                var_path,
                variables_view.key_node(key),
                f"stage variable name {key!r} must be 1-64 characters of [A-Za-z0-9_]",
            )
            continue
        if _variable_value(ctx, var_node, var_path):
            result[key] = (var_path, var_node)
    return result


def _variable_value(ctx: Ctx, node: Node, path: str) -> bool:
    """A string (or an integer, kept as written) of AWS's allowed characters."""
    if isinstance(node, ScalarNode) and node.tag == INT:
        return True
    if isinstance(node, ScalarNode) and node.tag == NULL:
        ctx.error(path, node, "a stage variable needs a value")
        return False
    text = ctx.text(node, path, "a string")
    if text is None:
        return False
    if not VARIABLE_VALUE.fullmatch(text):
        ctx.error(
            path,
            node,
            f"stage variable value {text!r} must be 1-512 characters of "
            "letters, digits and - . _ ~ : / ? # & = ,",
        )
        return False
    return True


def _variable_text(node: Node) -> str:
    return str(node.value)  # integers as written: 08080 stays 08080


def check_stage_variables(ctx: Ctx, stages: dict[str, StageEntry], scope: ApiScope) -> None:
    """Every stage defines the variables routes use; those used as connection_id name
    a VPC link of the API. One issue per stage and variable."""
    for entry in stages.values():
        reported: set[str] = set()
        for use in scope.variable_uses:
            if use.name in reported:
                continue
            value = entry.stage.variables.get(use.name)
            if value is None:
                reported.add(use.name)
                ctx.error(
                    entry.path,
                    entry.node,
                    f"stage {entry.stage.name!r} does not define variable {use.name!r}, "
                    f"used by route {use.route!r}",
                )
            elif use.as_link:
                reported.add(use.name)
                status = scope.link_status(value)
                if status == "missing":
                    var_path, var_node = entry.variable_nodes[use.name]
                    ctx.error(
                        var_path,
                        var_node,
                        f"{value!r} is not a VPC link of API {scope.api!r} (route {use.route!r} "
                        f"uses it as connection_id){did_you_mean(value, scope.links)}",
                    )
                else:
                    scope.used_links.add(value)
