"""The end-to-end benchmark behind ``make bench``: see ``bench/run.py`` and docs/benchmarks.md."""
