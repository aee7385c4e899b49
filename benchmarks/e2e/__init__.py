"""End-to-end benchmark: logclass over real HTTP beside a re-implementation of the reference
design, on the same workloads in the same run.

    .venv/bin/python -m benchmarks.e2e            # the full run (``make bench``), ~5-10 min
    .venv/bin/python -m benchmarks.e2e --quick    # a tiny run that checks the harness

Modules: ``workloads`` (what is sent), ``loadgen`` (how), ``servers`` (the processes and
their CPU/RSS), ``reference_server`` (the baseline), ``runner`` (the plan), ``report`` and
``chart`` (BENCHMARKS.md's section and its PNG).
"""
