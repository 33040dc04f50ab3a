"""Generated documentation: docs/reference.md (from the spec layer, no root) and
docs/guide.md (from real runs of the CLI, root). `python -m hyperplane_emu.docsgen`."""
