"""The one prefix of every kernel object and process the emulator creates.

A leaf module (it imports nothing of the package) so that the layers can name
it without importing the package's `__init__`, which re-exports the public
Python API (`hyperplane_emu.api`, built on those layers)."""

PREFIX = "he-"
