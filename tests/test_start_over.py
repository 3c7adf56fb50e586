"""``--force`` never loses a run: a start over stopped (Ctrl-C, or killed) at any file
operation of setting the earlier run aside or of putting it back ends, once settled, with
exactly the run the rule keeps (``numbarnn.runs.run_dir.EarlierRun``)."""
import os
import shutil

import pytest

from numbarnn.runs import run_dir

EARLIER = {
    "panel": {"metrics.json": "old", "metrics.csv": "old", "series/x.json": "old",
              "series/x.safetensors": "old", "notes.txt": "mine"},
    "failed sweep": {"sweep.json": "old", "sweep.csv": "old", "trials/a.json": "old"},
    "text": {"best.safetensors": "old", "last.safetensors": "old", "metrics.json": "old"},
}
# what the new run wrote, the keep_new its command passes, and which run should remain
NEW = {
    "nothing trained": ({"metrics.json": "new", "series/n.json": "new"}, None, "earlier"),
    "full disk": ({"best.safetensors": "new"}, None, "earlier"),
    "saved": ({"metrics.json": "new", "last.safetensors": "new"}, None, "new"),
    "unranked": ({"trials/h.json": "new", "trials/h.safetensors": "new",
                  "sweep.json": '{"status": "finished", "best": null}'}, False, "earlier"),
}


class Stop(Exception):
    """A Ctrl-C or a kill at the n-th file operation."""


class Operations:
    """``os`` and ``shutil`` for run_dir, stopping at the ``at``-th file operation."""

    def __init__(self, at):
        self.at, self.count = at, 0

    def tick(self):
        if self.count == self.at:
            raise Stop
        self.count += 1

    def __getattr__(self, name):  # (everything else: the real os)
        return getattr(os, name)

    def replace(self, a, b):
        self.tick()
        os.replace(a, b)

    def remove(self, a):
        self.tick()
        os.remove(a)

    def rmdir(self, a):
        self.tick()
        os.rmdir(a)

    def makedirs(self, a, exist_ok=False):
        self.tick()
        os.makedirs(a, exist_ok=exist_ok)

    def rmtree(self, path, ignore_errors=False):  # (file by file, each one a stop)
        if not os.path.isdir(path):
            return
        for name in sorted(os.listdir(path)):
            inner = os.path.join(path, name)
            if os.path.isdir(inner):
                self.rmtree(inner)
            else:
                self.remove(inner)
        self.rmdir(path)


def files(path):
    return {os.path.relpath(os.path.join(root, n), path): open(os.path.join(root, n)).read()
            for root, _, names in os.walk(path) for n in names}


def write(path, contents):
    for name, text in contents.items():
        os.makedirs(os.path.dirname(os.path.join(path, name)), exist_ok=True)
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


def settle_after_a_stop(path, monkeypatch):
    """What the next command does first: settle what a stopped start over left."""
    monkeypatch.setattr(run_dir, "os", os)
    monkeypatch.setattr(run_dir, "shutil", shutil)
    run_dir.EarlierRun.recover(path)


@pytest.mark.parametrize("earlier", EARLIER)
def test_a_stop_while_setting_aside_gives_the_earlier_run_back(tmp_path, monkeypatch,
                                                               earlier):
    for at in range(40):
        path = tmp_path / f"d{at}"
        write(path, EARLIER[earlier])
        operations = Operations(at)
        monkeypatch.setattr(run_dir, "os", operations)
        monkeypatch.setattr(run_dir, "shutil", operations)
        try:
            run_dir.prepare_run_dir(path, force=True, keep_earlier=True)
        except Stop:
            settle_after_a_stop(path, monkeypatch)
            assert files(path) == EARLIER[earlier], at
            continue
        monkeypatch.undo()
        return  # (no stop left to try: every operation was stopped at once)
    pytest.fail("more file operations than tried")


@pytest.mark.parametrize("new", NEW)
@pytest.mark.parametrize("earlier", EARLIER)
@pytest.mark.parametrize("then", ["close-time settle", "killed"])
def test_a_stop_while_settling_ends_with_the_run_the_rule_keeps(tmp_path, monkeypatch,
                                                                earlier, new, then):
    written, keep_new, kept = NEW[new]
    expected = {**{k: v for k, v in EARLIER[earlier].items() if k == "notes.txt"}, **written} \
        if kept == "new" else EARLIER[earlier]
    for at in range(60):
        path = str(tmp_path / f"d{at}")
        write(path, EARLIER[earlier])
        start_over = run_dir.prepare_run_dir(path, force=True, keep_earlier=True)
        write(path, written)
        operations = Operations(at)
        monkeypatch.setattr(run_dir, "os", operations)
        monkeypatch.setattr(run_dir, "shutil", operations)
        try:
            start_over.settle(keep_new)
        except Stop:
            if then == "close-time settle":  # (the command's own settle, after the stop)
                monkeypatch.undo()
                start_over.settle()
            settle_after_a_stop(path, monkeypatch)
            assert files(path) == expected, at
            continue
        monkeypatch.undo()
        assert files(path) == expected
        return
    pytest.fail("more file operations than tried")
