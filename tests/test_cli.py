"""The command line, driven through Click's runner and as installed commands."""
import json
import re
import subprocess
import sys

from click.testing import CliRunner

import numbarnn
from numbarnn_cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_info_text():
    result = run("info")
    assert result.exit_code == 0, result.output
    for key in ("numbarnn", "numba", "numpy", "python", "blas", "cuda", "compile cache"):
        assert re.search(rf"^{key}\s", result.output, re.M), key
    assert numbarnn.__version__ in result.output


def test_info_json():
    result = run("info", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["numbarnn"] == numbarnn.__version__
    assert isinstance(data["cuda"]["available"], bool)
    assert data["blas"] and all(lib["threads"] >= 1 for lib in data["blas"])


def test_demo_loss_falls():
    result = run("demo", "--steps", "120", "--seed", "1")
    assert result.exit_code == 0, result.output
    losses = [float(v) for v in re.findall(r"loss (\S+)", result.output)]
    assert len(losses) >= 3
    assert losses[-1] < 0.2 * losses[0]


def test_demo_bad_option_is_one_line_usage_error():
    result = run("demo", "--steps", "0")
    assert result.exit_code == 2
    assert "--steps" in result.output
    assert "Traceback" not in result.output


def test_module_and_console_script():
    for cmd in ([sys.executable, "-m", "numbarnn", "--version"], ["numbarnn", "--version"]):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        assert numbarnn.__version__ in out
