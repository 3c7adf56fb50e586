"""The Python examples of README.rst run, as written, in one namespace (in order), with
training budgets cut to seconds: each substitution below is the only change."""
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.rst"
# what the examples train for -> what the test trains for
SMALLER = [("steps=500", "steps=6"), ("hidden_size=128", "hidden_size=16"),
           ("text, _ = builtin_corpus()", "text = builtin_corpus()[0][:30000]"),
           ("ForecastConfig(epochs=100, members=1, seed=0)",
            "ForecastConfig(epochs=2, members=1, seed=0)"),
           ("fit(series, ForecastConfig(seed=0))", "fit(series, ForecastConfig(seed=0, epochs=3, "
                                                   "members=1))")]


def python_blocks(text):
    """The literal blocks (after a line ending in '::') whose first line imports Python."""
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and lines[j].startswith(" "):
                indent = len(lines[j]) - len(lines[j].lstrip())
                body = []
                while j < len(lines) and (not lines[j].strip()
                                          or len(lines[j]) - len(lines[j].lstrip()) >= indent):
                    body.append(lines[j][indent:])
                    j += 1
                code = "\n".join(body).strip()
                if re.match(r"(import|from) \w", code):
                    blocks.append((i + 1, code))
                i = j
                continue
        i += 1
    return blocks


def test_the_readme_has_its_examples():
    starts = [code.split("\n")[0] for _, code in python_blocks(README.read_text())]
    assert "from numbarnn import TextConfig" in starts
    assert any(s.startswith("from numbarnn.forecast import") for s in starts)
    assert "import numpy as np" in starts
    assert "import pandas as pd" in starts
    assert "from numbarnn.forecast import ForecastConfig, load_airline" in starts  # the sweep


def test_the_readme_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for line, code in python_blocks(README.read_text()):
        if "import torch" in code:
            pytest.importorskip("torch")
        if "import pandas" in code:
            pytest.importorskip("pandas")
        for old, new in SMALLER:
            code = code.replace(old, new)
        try:
            exec(compile(code, f"README.rst, block at line {line}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message says which block
            pytest.fail(f"README.rst block at line {line}: {type(exc).__name__}: {exc}")
    assert os.path.exists("airline.safetensors") and os.path.isdir("runs/mine")
    assert os.path.exists("runs/airline-sweep/sweep.csv")
