"""`vsearch bench`: the origin miss path, HTTP throughput, and the local edge, measured on the
loaded inventory; raw JSON in bench/results/, tables in docs/benchmarks.md."""

from origin.bench.run import run_bench

__all__ = ["run_bench"]
