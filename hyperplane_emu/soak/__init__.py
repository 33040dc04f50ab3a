"""Reliability and security soak: bad input, bad packets, faults, leaks, load."""
