"""Fuzzers of both APIs over HTTP (`make fuzz`) and in-process (the test suite)."""
