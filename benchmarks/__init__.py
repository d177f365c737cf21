"""asv benchmark suites of numdl (see docs/benchmarks.md); driven by numdl.testing.registry."""
