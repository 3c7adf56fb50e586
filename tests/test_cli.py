"""The command line, driven through Click's runner and as installed commands."""
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import numbarnn
from numbarnn_cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_info_text():
    result = run("info")
    assert result.exit_code == 0, result.output
    for key in ("numbarnn", "numba", "numpy", "python", "tile", "blas", "cuda",
                "compile cache"):
        assert re.search(rf"^{key}\s", result.output, re.M), key
    assert numbarnn.__version__ in result.output


def test_info_json():
    result = run("info", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["numbarnn"] == numbarnn.__version__
    assert isinstance(data["cuda"]["available"], bool)
    assert data["blas"] and all(lib["threads"] >= 1 for lib in data["blas"])
    assert re.fullmatch(r"(256|512)-bit vectors, 4 rows x [34] vectors \((AVX2|AVX-512)\)",
                        data["tile"])


def test_demo_loss_falls():
    result = run("demo", "--steps", "120", "--seed", "1")
    assert result.exit_code == 0, result.output
    losses = [float(v) for v in re.findall(r"loss (\S+)", result.output)]
    assert len(losses) >= 3
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("args, message", [
    (["demo", "--steps", "0"], "Invalid value for '--steps'"),
    (["train-text", "--hidden", "0"], "Invalid value for '--hidden'"),
    (["generate"], "Missing argument 'RUN'"),
    (["gradient-flow", "--delays", "5,x"], "expected integers"),
    (["sweep", "generate"], "'generate' is not one of"),
    (["sweep"], "Missing argument 'COMMAND'. Choose from: train-series, train-text"),
    (["train-text", "--out"], "Option '--out' requires an argument."),
    (["bogus-command"], "No such command 'bogus-command'"),
    (["--bogus"], "No such option '--bogus'")])
def test_usage_mistakes_are_one_line(args, message):
    # Click's own checks (option types and ranges, commands, arguments) give one line too,
    # naming the help to read, not Click's usage block
    result = run(*args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()], result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert re.search(r"\(see 'cli[a-z- ]* --help'\)$", result.output.strip())


def test_the_bare_command_prints_its_help():
    result = run()
    assert result.exit_code == 0 and result.output.startswith("Usage: ")
    assert "train-series" in result.output


def test_module_and_console_script():
    for cmd in ([sys.executable, "-m", "numbarnn", "--version"], ["numbarnn", "--version"]):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        assert numbarnn.__version__ in out
