"""Benchmarks: each ``bench_*.py`` module has ``main()`` printing absolute figures and a ratio against a
baseline measured in the same run. ``python -m bench [NAME…]`` runs them all (or the named ones)."""
