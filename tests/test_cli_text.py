"""``numbarnn train-text`` and ``numbarnn generate`` driven as a user would."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from numbarnn_cli.main import cli
from textdata import small_corpus

SMALL = ["--hidden", "16", "--batch-size", "4", "--seq-len", "8", "--eval-every", "5"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(small_corpus(), encoding="utf-8")
    return path


def test_train_resume_generate(tmp_path, corpus):
    out = tmp_path / "run"
    result = run("train-text", corpus, "--out", out, "--steps", 10, *SMALL, "--sample", 40)
    assert result.exit_code == 0, result.output
    assert "corpus.txt" in result.output and "done: 10 steps" in result.output
    assert "sample (best checkpoint" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 10 and metrics["status"] == "finished"
    assert metrics["config"]["hidden_size"] == 16 and metrics["config"]["workers"] == 2

    result = run("train-text", corpus, "--out", out, "--steps", 20, "--resume", "--sample", 0)
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output and "at step 10" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 20 and [r["step"] for r in metrics["history"]] == [5, 10, 15, 20]

    first = run("generate", out, "--prime", "the ", "--length", 60, "--seed", 3)
    again = run("generate", out, "--prime", "the ", "--length", 60, "--seed", 3)
    assert first.exit_code == 0, first.output
    assert first.output == again.output
    assert first.output.startswith("the ") and len(first.output) == 4 + 60 + 1
    greedy = run("generate", out / "last.safetensors", "--greedy", "--length", 20)
    assert greedy.exit_code == 0 and len(greedy.output) == 21
    one_thread = run("generate", out, "--prime", "the ", "--length", 60, "--seed", 3,
                     "--threads", 1)
    assert one_thread.output == first.output


def test_gru_text_model_trains_resumes_and_samples(tmp_path, corpus):
    out = tmp_path / "gru"
    result = run("train-text", corpus, "--out", out, "--cell", "gru", "--steps", 5, *SMALL,
                 "--sample", 0)
    assert result.exit_code == 0, result.output
    assert "GRU(" in result.output
    assert json.loads((out / "metrics.json").read_text())["config"]["cell"] == "gru"
    result = run("train-text", corpus, "--out", out, "--steps", 10, "--resume", "--sample", 0)
    assert result.exit_code == 0 and "at step 5" in result.output, result.output
    two = [run("generate", out, "--length", 40, "--seed", 1, "--threads", t).output
           for t in (1, 2)]
    assert len(two[0]) == 41 and two[0] == two[1]


def test_existing_run_is_never_overwritten_without_force(tmp_path, corpus):
    out = tmp_path / "run"
    assert run("train-text", corpus, "--out", out, "--steps", 5, *SMALL, "-q").exit_code == 0
    before = (out / "last.safetensors").read_bytes()
    result = run("train-text", corpus, "--out", out, "--steps", 5, *SMALL)
    assert result.exit_code == 2
    assert "already holds a run" in result.output and "--force" in result.output
    assert (out / "last.safetensors").read_bytes() == before
    result = run("train-text", corpus, "--out", out, "--steps", 6, *SMALL, "--force", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6


def test_resume_keeps_the_run_settings(tmp_path, corpus):
    out = tmp_path / "run"
    assert run("train-text", corpus, "--out", out, "--steps", 5, *SMALL, "-q").exit_code == 0
    result = run("train-text", corpus, "--out", out, "--steps", 8, "--resume", "--hidden", 32)
    assert result.exit_code == 2
    assert "--hidden 32: a resumed run keeps its settings (this one has 16)" in result.output
    result = run("train-text", corpus, "--out", tmp_path / "fresh", "--resume")
    assert result.exit_code == 2 and "nothing to resume" in result.output


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("empty", "the file is empty"),
    ("invalid", "not valid utf-8 at byte offset 2"),
    ("short", "needs at least"),
])
def test_bad_corpus_gives_one_line_and_exit_2(tmp_path, case, message):
    path = tmp_path / "c.txt"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "invalid":
        path.write_bytes(b"ab\xfe\xffcd" * 100)
    elif case == "short":
        path.write_text("tiny text")
    result = run("train-text", path, "--out", tmp_path / "run", "--steps", 2, "-q")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_generate_bad_input(tmp_path, corpus):
    out = tmp_path / "run"
    assert run("train-text", corpus, "--out", out, "--steps", 3, *SMALL, "-q").exit_code == 0
    result = run("generate", out, "--prime", "QZ€")
    assert result.exit_code == 2
    assert "characters the model never saw: 'Q' 'Z' '€'" in result.output
    data = (out / "last.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:100])
    (tmp_path / "other.txt").write_text("hello, this is plain text and no checkpoint")
    for target, message in [(tmp_path / "cut.safetensors", "truncated"),
                            (tmp_path / "other.txt", "not a safetensors file"),
                            (tmp_path / "none.safetensors", "no such checkpoint"),
                            (tmp_path / "empty-dir", "no such checkpoint")]:
        result = run("generate", target)
        assert result.exit_code == 2, (target, result.output)
        assert message in result.output and "Traceback" not in result.output
    (tmp_path / "empty-dir").mkdir()
    result = run("generate", tmp_path / "empty-dir")
    assert result.exit_code == 2 and "no best.safetensors or last.safetensors" in result.output
    result = run("generate", out, "--temperature", 0)
    assert result.exit_code == 2


def test_builtin_corpus_is_the_default(tmp_path):
    result = run("train-text", "--out", tmp_path / "run", "--steps", 2, "--hidden", 8,
                 "--sample", 20)
    assert result.exit_code == 0, result.output
    assert "built-in corpus: docstrings of the Python" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["corpus"]["name"] == "builtin" and metrics["vocab_size"] > 50


def test_help_does_not_import_numba():
    code = ("import sys; from numbarnn_cli.main import cli\n"
            "try:\n    cli(['train-text', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'numba' not in sys.modules, 'numba imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--time-budget" in result.stdout and "--resume" in result.stdout


def test_device_cuda_without_cuda_is_one_line_before_anything_runs(tmp_path, monkeypatch):
    from numbarnn import devices, info

    monkeypatch.setattr(devices, "_DEVICES", {})
    monkeypatch.setattr(info, "cuda_info", lambda: {"available": False, "detail": "no GPU"})
    for command in (["train-text", "--steps", "1"], ["train-series"],
                    ["sweep", "train-text", "--grid", "lr=0.1,0.2"]):
        out = tmp_path / command[0]
        result = CliRunner().invoke(cli, [*command, "--device", "cuda", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "CUDA is not available here (no GPU)" in result.output
        assert "Traceback" not in result.output and not out.exists()


def test_compile_time_is_kept_out_of_the_training_figures(tmp_path, corpus):
    # in this process the kernels are loaded already: compile_seconds is 0 and the rate
    # comes from the training steps alone
    out = tmp_path / "run"
    result = run("train-text", corpus, "--out", out, "--steps", 5, *SMALL, "--sample", 0)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["compile_seconds"] == 0
    chars, seconds = 5 * 4 * 8, metrics["train_seconds"]  # steps x batch x sequence length
    # (train_seconds is rounded to the millisecond in metrics.json)
    assert chars / (seconds + 5e-4) <= metrics["chars_per_second"] <= chars / max(seconds - 5e-4, 1e-9)
    assert "compiling the kernels" not in result.output


@pytest.mark.slow
def test_first_run_says_it_compiles_and_reports_the_compile_seconds(tmp_path, corpus):
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "numbarnn", "train-text", str(corpus), "--steps", "3", *SMALL,
            "--sample", "0", "--out"]
    first = subprocess.run(args + [str(tmp_path / "a")], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    said = first.stdout + first.stderr
    assert "compiling the kernels, first run only: about" in said and "kernels compiled in" in said
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["compile_seconds"] > 1
    assert metrics["train_seconds"] < metrics["compile_seconds"]  # 3 tiny steps
    second = subprocess.run(args + [str(tmp_path / "b")], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "compiling the kernels" not in second.stdout + second.stderr
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["compile_seconds"] == 0
