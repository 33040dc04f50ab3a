"""The example topologies shipped in the repository's `examples/` directory.

    from hyperplane_emu import examples
    examples.path("basic")            # .../examples/basic.yaml
    examples.names()                  # ["basic", "http-api-vpc-link", "private-rest-api"]

The package is installed editable (scripts/setup), so the files are read from
the checkout itself rather than copied into the package.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent.parent / "examples"


def names() -> list[str]:
    """Names of the examples, without the .yaml suffix, sorted."""
    return sorted(p.stem for p in DIRECTORY.glob("*.yaml"))


def path(name: str) -> Path:
    """The file of example `name` (`basic` or `basic.yaml`); FileNotFoundError if unknown."""
    file = DIRECTORY / (name if name.endswith(".yaml") else f"{name}.yaml")
    if file.parent != DIRECTORY or not file.is_file():
        raise FileNotFoundError(
            f"no example {name!r} in {DIRECTORY}; known: {', '.join(names()) or 'none'}"
        )
    return file
