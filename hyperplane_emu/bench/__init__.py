"""Benchmarks that need root: ``python -m hyperplane_emu.bench fabric`` (see `scripts/bench`)."""
