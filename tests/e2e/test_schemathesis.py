"""schemathesis against the OpenAPI document the gateway serves, through the gateway: no 5xx, and
every answer (status, content type, headers, body) is one the document describes.

schemathesis runs as its CLI (``python -m schemathesis.cli run``) in a subprocess: it runs every
phase (coverage's boundary and invalid values, fuzzing, stateful sequences over the links it infers
from ``Location``), which its pytest integration does not, and writes a JSON report to assert on.
Each run picks a new seed, so the suite keeps exploring; a failure names the seed to replay it with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sportapp_stack.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.stack]

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# Per operation and phase; about 400 requests in all, 5-10 s against the local stack. Registrations
# stay far below the gateway's rate limit (200 r/s, burst 400), and a 429 would be documented anyway.
MAX_EXAMPLES = 25
REQUEST_TIMEOUT_S = 5
# A hard deadline rather than --max-time: schemathesis 4 treats --max-time as a budget to spend
# (its fuzzing and stateful phases repeat until it runs out), so it would set the run's length.
DEADLINE_S = 45
# schemathesis accepts a 5xx for invalid input by default; here invalid input is the client's fault.
CONFIG = """\
[cache]
enabled = false

[checks]
negative_data_rejection.expected-statuses = ["4xx"]
"""
# Warnings that mean the document and the API disagree, not that a run was unlucky.
MISMATCH_WARNINGS = (
    "base_url_mismatch",
    "unresolvable_reference",
    "missing_deserializer",
)
REGISTER = "POST /user-commands/users/register"
QUERIES = (
    "GET /user-queries/users",
    "GET /user-queries/users/check",
    "GET /user-queries/users/{user_id}",
)
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def _run_schemathesis(base_url: str, work: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    config = work / "schemathesis.toml"
    config.write_text(CONFIG)
    report = work / "report.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", f"{base_url}/openapi.json", "--url", base_url,
        "--checks", ",".join(CHECKS),
        "--max-examples", str(MAX_EXAMPLES),
        "--request-timeout", str(REQUEST_TIMEOUT_S),
        "--generation-database", "none",
        "--report", "json", "--report-json-path", str(report),
        "--output-sanitize", "false",  # the data is generated: show the exact request to replay
        "--no-color",
    ]  # fmt: skip
    # Straight to 127.0.0.1, never through a proxy from the environment.
    env = {name: value for name, value in os.environ.items() if name.lower() not in PROXY_VARIABLES}
    try:
        # cwd: schemathesis and Hypothesis keep caches in the working folder; this one is thrown away.
        finished = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=DEADLINE_S, check=False
        )
    except subprocess.TimeoutExpired as expired:  # subprocess.run has killed it already
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else ""
        pytest.fail(f"schemathesis ran past its {DEADLINE_S} s deadline:\n{output[-5000:]}")
    assert report.exists(), f"schemathesis wrote no report:\n{finished.stdout}\n{finished.stderr}"
    return finished, json.loads(report.read_text())


def _failures(finished: subprocess.CompletedProcess[str], seed: object) -> str:
    output = finished.stdout
    start = output.find("== FAILURES ==")
    details = output[output.rfind("\n", 0, start) + 1 :] if start >= 0 else output[-5000:]
    return f"schemathesis failed (replay with --seed {seed}):\n{details}\n{finished.stderr[-2000:]}"


def test_every_answer_through_the_gateway_is_documented_and_none_is_a_5xx(stack: Stack) -> None:
    base_url = stack.config.gateway_url
    assert urlsplit(base_url).hostname == "127.0.0.1"

    with tempfile.TemporaryDirectory(prefix="sportapp-schemathesis-") as folder:
        finished, report = _run_schemathesis(base_url, Path(folder))

    assert finished.returncode == 0, _failures(finished, report["seed"])
    assert report["failures"] == []
    assert report["errors"] == []
    assert report["operations"]["tested"] == report["operations"]["total"] == 4
    assert {name: phase["status"] for name, phase in report["phases"].items() if name != "examples"} == {
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }
    assert report["test_cases"]["generated"] > 0
    assert report["test_cases"]["without_checks"] == 0
    assert {name: report["warnings"][name] for name in MISMATCH_WARNINGS if report["warnings"][name]} == {}
    # validation_mismatch fires when every schema-valid case of one phase got a 4xx. Registration
    # refuses valid bodies by state, which no schema can say: an e-mail registered by an earlier
    # case (409), an Idempotency-Key reused with another body (schemathesis draws "0" for many
    # cases: 422). A phase of a few cases can be all of those. A mismatch is the operation serving
    # no schema-valid case over the whole run, and only registration may warn at all.
    assert set(report["warnings"]["validation_mismatch"]) <= {REGISTER}
    served = {
        operation: sum(phase["accepted"] for phase in phases.values())
        for operation, phases in report["valid_rates"].items()
    }
    assert all(count > 0 for count in served.values()), served
    assert set(served) == {REGISTER, *QUERIES}

