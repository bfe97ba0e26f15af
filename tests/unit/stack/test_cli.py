"""The ``sportapp`` command takes the lab's commands from their entry points, on demand."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from sportapp_stack.cli import main


def test_the_lab_s_commands_are_listed_beside_the_stack_s() -> None:
    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0, result.output
    for command in ("up", "status", "down", "logs", "compose-files", "experiment", "report"):
        assert f"  {command} " in result.output, command


def test_the_stack_s_command_line_imports_nothing_of_the_lab_until_a_lab_command_runs() -> None:
    # A fresh interpreter: this test session has imported the lab already.
    probe = (
        "import sys; import sportapp_stack.cli as cli; "
        "assert not [m for m in sys.modules if m.startswith(('sportapp_lab', 'matplotlib'))]; "
        "cli.main.get_command(None, 'experiment'); "
        "assert 'sportapp_lab.cli' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
