"""Running the CLI in tests: through typer's CliRunner (stdout and stderr apart)."""

from __future__ import annotations

from typer.testing import CliRunner

from audiosplat.cli import app

runner = CliRunner()
SMALL_FIT = ["--samples", "4096", "--events", "4", "--steps", "2", "--device", "cpu"]


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert str(fragment) in lines[0]
