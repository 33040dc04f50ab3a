"""docs/guide.md from docs/guide.src.md: every ```` ```run ```` block becomes the
command and what it really printed, so the guide shows what the emulator does
today, not what someone typed once.

The source declares the topologies it uses, once each:

    <!-- docsgen topology rest: examples/private-rest-api.yaml -->

and then writes commands as a reader types them (with `sudo`), one per block:

    ```run lines=20 exit=28 expect="Forbidden"
    sudo hyperplane-emu exec {{rest}} client -- curl -s {{rest.url.orders}}/orders
    ```

`{{rest}}` is the topology's name, `{{rest.file}}` its file, `{{rest.url.API}}`
the API's invoke URL and `{{rest.host.API}}` its host name (read from the
running topology, so ids are real). Block
options: `lines=N` keeps the first N lines of output; `exit=N` is the exit
status the command must have (default 0); `expect=REGEX` must match the
output. A block that breaks either stops generation: the guide never
documents a behaviour the emulator no longer has. Every topology the source
declares is taken down at the end, whatever happened.

`isolated=True` (the end-to-end test) runs renamed copies of the topologies
(`docs-rest`…), so that it cannot collide with a topology of the same name
someone else has up (the demo uses `private-rest`); the output then differs in
names and ids, not in shape (`shape()`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir
from hyperplane_emu.runtime.status import status

SOURCE = Path("docs/guide.src.md")
OUTPUT = Path("docs/guide.md")
COLUMNS = 150
"""Terminal width the commands see: rich tables are laid out for it."""
COMMAND_TIMEOUT = 60.0
_TOPOLOGY = re.compile(r"<!-- docsgen topology ([a-z]+): (\S+) -->")
_RUN = re.compile(r"^```run([^\n]*)\n(.*?)^```\n", re.M | re.S)
_VARIABLE = re.compile(r"\{\{([a-z]+)(?:\.(file|url|host)(?:\.([a-z0-9-]+))?)?\}\}")
_NAME_LINE = re.compile(r"^name: *(\S+) *$", re.M)
MARK = "<!-- docsgen: output of a real run -->"


class GuideError(Exception):
    """A documented command no longer does what the guide says."""


@dataclass(frozen=True)
class Topology:
    key: str  # `rest` in {{rest}}
    file: Path  # the file `up` is given (a renamed copy when isolated)
    shown: str  # the file as the guide shows it
    name: str  # the topology's name


@dataclass(frozen=True)
class Block:
    command: str
    lines: int | None = None
    exit: int = 0
    expect: str | None = None


@dataclass
class Run:
    """One command as it ran."""

    command: str
    output: str
    status: int
    cut: int = 0  # lines left out


# -- parsing the source ------------------------------------------------------------


def parse_block(info: str, body: str) -> Block:
    options: dict[str, str] = {}
    for word in shlex.split(info):
        key, sep, value = word.partition("=")
        if not sep or key not in ("lines", "exit", "expect"):
            raise GuideError(f"unknown run-block option {word!r} (lines=N exit=N expect=RE)")
        options[key] = value
    command = body.strip()
    if not command or "\n" in command:
        raise GuideError(f"a run block holds exactly one command line, got {body!r}")
    return Block(
        command=command,
        lines=int(options["lines"]) if "lines" in options else None,
        exit=int(options.get("exit", "0")),
        expect=options.get("expect"),
    )


def topologies(source: str, repo: Path, workdir: Path | None) -> dict[str, Topology]:
    """The declared topologies; renamed copies in `workdir` when isolated."""
    result: dict[str, Topology] = {}
    for key, path in _TOPOLOGY.findall(source):
        original = repo / path
        text = original.read_text()
        match = _NAME_LINE.search(text)
        if match is None:
            raise GuideError(f"{path}: no top-level `name:` line")
        if workdir is None:
            result[key] = Topology(key, original, path, match.group(1))
            continue
        name = isolated_name(key)
        copy = workdir / f"{key}.yaml"
        copy.write_text(_NAME_LINE.sub(f"name: {name}", text, count=1))
        result[key] = Topology(key, copy, str(copy), name)
    return result


def isolated_name(key: str) -> str:
    return f"docs-{key}"[:16]


def declared_names(source: str, repo: Path) -> dict[str, str]:
    """Topology key -> the name the committed guide shows."""
    return {key: top.name for key, top in topologies(source, repo, None).items()}


def substitute(command: str, tops: dict[str, Topology]) -> str:
    def value(m: re.Match[str]) -> str:
        key, what, api = m.group(1), m.group(2), m.group(3)
        top = tops.get(key)
        if top is None:
            raise GuideError(f"{m.group(0)}: no topology {key!r} declared")
        if what is None:
            return top.name
        if what == "file":
            return top.shown
        if api is None:
            raise GuideError(f"{m.group(0)}: write {{{{{key}.{what}.<api name>}}}}")
        for entry in status(top.name)["apis"]:
            if entry["name"] == api and entry["invoke_urls"]:
                url = str(entry["invoke_urls"][0])
                return url.split("/")[2] if what == "host" else url
        raise GuideError(f"{m.group(0)}: {top.name} has no API {api!r} with an invoke URL")

    return _VARIABLE.sub(value, command)


# -- running -----------------------------------------------------------------------


def _environment(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{repo / '.venv/bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["COLUMNS"] = str(COLUMNS)
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    env.pop("HE_UP_STEP_DELAY", None)
    return env


def run_command(command: str, repo: Path) -> tuple[str, int]:
    """The command through bash, as root; `sudo` is a no-op so that the guide
    shows what a reader types. stdout and stderr in one stream, in order."""
    script = 'sudo() { "$@"; }\nset -o pipefail\n' + command
    r = subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        env=_environment(repo),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    lines = [line.rstrip() for line in r.stdout.splitlines()]  # rich pads with spaces
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines), r.returncode


def execute(block: Block, tops: dict[str, Topology], repo: Path) -> Run:
    command = substitute(block.command, tops)
    output, code = run_command(command, repo)
    problem = None
    if code != block.exit:
        problem = f"exit status {code}, the guide expects {block.exit}"
    elif block.expect is not None and not re.search(block.expect, output):
        problem = f"output does not match {block.expect!r}"
    if problem:
        raise GuideError(f"`{command}`: {problem}\n{output[-3000:]}")
    lines = output.splitlines()
    cut = 0
    if block.lines is not None and len(lines) > block.lines:
        cut = len(lines) - block.lines
        lines = lines[: block.lines]
    return Run(command, "\n".join(lines), code, cut)


def render_run(run: Run) -> str:
    out = [MARK, "```console", f"$ {run.command}"]
    if run.output:
        out.append(run.output)
    if run.cut:
        out.append(f"[… {run.cut} more lines]")
    if run.status:
        out.append(f"[exit status {run.status}]")
    out.append("```")
    return "\n".join(out) + "\n"


def generate(source: str, repo: Path, *, isolated: bool = False, progress: bool = True) -> str:
    """The rendered guide; every declared topology is down again afterwards."""
    with tempfile.TemporaryDirectory(prefix="he-docs-") as tmp:
        tops = topologies(source, repo, Path(tmp) if isolated else None)
        for top in tops.values():
            if StateDir.of(top.name).exists():
                raise GuideError(
                    f"topology {top.name!r} is already up (another run?): take it down "
                    "first, or generate with --isolated"
                )
        parts: list[str] = []
        position = 0
        started = time.monotonic()
        try:
            for m in _RUN.finditer(source):
                parts.append(source[position : m.start()])
                block = parse_block(m.group(1), m.group(2))
                run = execute(block, tops, repo)
                if progress:
                    elapsed = time.monotonic() - started
                    print(f"[{elapsed:5.1f}s] {run.command}", file=sys.stderr)
                parts.append(render_run(run))
                position = m.end()
            parts.append(source[position:])
        finally:
            for top in tops.values():
                if StateDir.of(top.name).exists():
                    lifecycle.down(top.name)
    text = "".join(parts)
    return _drop_declarations(text)


def _drop_declarations(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", _TOPOLOGY.sub("", text))


# -- shapes: what the end-to-end test compares ---------------------------------------


@dataclass(frozen=True)
class Shape:
    """What stays the same from run to run: not ids, ports or times."""

    command: str  # the programs, verbs and options; names and values left out
    first_words: tuple[str, ...]
    columns: frozenset[str]
    json_keys: frozenset[str]
    exit_status: int


@dataclass(frozen=True)
class Documented:
    command: str
    output: str
    exit_status: int


def documented(guide: str) -> list[Documented]:
    """The runs of a rendered guide, in order."""
    pattern = re.compile(re.escape(MARK) + r"\n```console\n\$ ([^\n]*)\n(.*?)^```\n", re.M | re.S)
    result = []
    for m in pattern.finditer(guide):
        lines = m.group(2).splitlines()
        status = 0
        if lines and (s := re.fullmatch(r"\[exit status (\d+)\]", lines[-1])):
            status = int(s.group(1))
            lines.pop()
        if lines and re.fullmatch(r"\[… \d+ more lines\]", lines[-1]):
            lines.pop()
        result.append(Documented(m.group(1), "\n".join(lines), status))
    return result


def _words(text: str) -> Iterator[str]:
    for token in text.split():
        if not re.search(r"\d", token):  # ids, addresses, ports, times
            yield from re.findall(r"[A-Za-z][A-Za-z_-]*", token)


def shape(run: Documented, names: frozenset[str] = frozenset()) -> Shape:
    """`names`: topology names to leave out (they differ between isolated runs
    and the committed guide)."""
    from hyperplane_emu.cli.main import main as cli

    verbs = set(cli.commands) | {"sudo", "hyperplane-emu", "curl", "jq", "getent", "grep"}
    verb = [w for w in shlex.split(run.command) if w.startswith("-") or w in verbs]
    output = run.output
    for name in sorted(names, key=len, reverse=True):
        output = output.replace(name, "")
    lines = output.splitlines()
    first = next((line for line in lines if line.strip()), "")
    header = [line for line in lines if line.startswith("┃")]
    columns = frozenset(w for line in header for w in _words(line.replace("┃", " ")))
    keys = frozenset(re.findall(r'"([A-Za-z_-]+)":', output))
    return Shape(" ".join(verb), tuple(_words(first)), columns, keys, run.exit_status)


# -- entry point -----------------------------------------------------------------------


def main(out: Path | None = None, *, isolated: bool = False) -> int:
    if os.geteuid() != 0:
        print("the guide runs real topologies: run it as root (sudo scripts/docs)", file=sys.stderr)
        return 1
    repo = Path.cwd()
    source = (repo / SOURCE).read_text()
    started = time.monotonic()
    try:
        text = generate(source, repo, isolated=isolated)
    except GuideError as e:
        print(f"docs/guide.md not written: {e}", file=sys.stderr)
        return 1
    path = out or repo / OUTPUT
    path.write_text(text)
    print(f"wrote {path} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0
