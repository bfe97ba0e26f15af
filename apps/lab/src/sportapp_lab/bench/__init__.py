"""SportApp's benchmarks: how close the stack runs to what this machine allows.

    .venv/bin/python -m sportapp_lab.bench [--only NAME ...] [--quick]      (or: tox -e bench)

Every figure is printed beside a baseline measured in the same run on the same machine, and as a
ratio to it, so that a figure means something on a noisy shared machine. Each benchmark bounds
its own load (a rate and a duration), stops by itself, and stops every process it started, also
when it fails. Not part of the test run.
"""
