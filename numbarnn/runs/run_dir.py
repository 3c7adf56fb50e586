"""Run directories: what a run writes, a lock while it runs, and starting over safely.

A run directory holds one run's checkpoints and metrics (a text run, a series
run, a many-series run or a sweep).  ``run_lock`` holds an exclusive lock on it
for a whole run, so that two commands never write into one directory at once; a
lock left by a killed process is released by the system and taken over.
``prepare_run_dir`` refuses to mix a new run into an old one unless asked to
resume it (of the same kind) or to start over (``force``).
"""
import contextlib
import datetime
import json
import os
import shutil
import socket
import typing

try:
    import fcntl
except ImportError:  # Windows: a lock on the file's first byte instead
    fcntl = None
    import msvcrt

# What runs write (and ``forecast DIR`` by default): set aside by ``--force``, so that
# nothing of the earlier run is taken for the new one's (a stale best model, say).  Files
# inside the directories too.
RUN_FILES = ("model.safetensors", "best.safetensors", "last.safetensors", "metrics.json",
             "metrics.csv", "sweep.json", "sweep.csv", "forecast.csv")
# where ``--force`` keeps the earlier run's files until the new run has written its own
REPLACED = ".replaced"
REPLACING = ".replacing"  # (while they are being set aside)
RUN_DIRS = ("series", "trials")
RUN_KINDS = {"text": "a train-text run", "series": "a train-series run",
             "panel": "a many-series run (train-series --id-column)", "sweep": "a sweep"}


def run_kind(path):
    """What a run directory holds: 'sweep', 'panel', 'text', 'series', or None."""
    for name, kind in (("sweep.json", "sweep"), ("metrics.json", "panel")):
        try:
            with open(os.path.join(path, name), encoding="utf-8") as f:
                if json.load(f).get("kind") == kind:
                    return kind
        except (OSError, ValueError, AttributeError):
            pass
    for name, kind in (("last.safetensors", "text"), ("model.safetensors", "series")):
        if os.path.exists(os.path.join(path, name)):
            return kind
    return None
LOCK_FILE = ".numbarnn.lock"


def _try_lock(fd):
    """Take the exclusive lock of the open file ``fd``; False if another process holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(lock_path):
    """What the lock file says of the process that holds it: 'process N on HOST since T'."""
    try:
        with open(lock_path, encoding="utf-8") as f:
            info = json.load(f)
        return f"process {info['pid']} on {info['host']} since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def run_lock(path):
    """Hold the run directory ``path`` (created if missing) for this process.

    The lock is an operating-system lock on ``path/.numbarnn.lock``: a second
    command on the same directory gets one ``ValueError`` naming the process that
    holds it, and the lock of a process that died (even by SIGKILL) is released
    by the system, so the next run takes it over.  The file stays (emptied on
    release): removing it could let two processes lock two different files.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        lock_path = os.path.join(path, LOCK_FILE)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(f"{path}: cannot lock the run directory ({e.strerror})") from None
    try:
        if not _try_lock(fd):
            raise ValueError(f"{path}: in use by another run ({_holder(lock_path)}); wait for "
                             "it to finish, or choose another --out")
        started = datetime.datetime.now().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": started}).encode("utf-8"))
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # (closing releases the lock)


def prepare_run_dir(path, resume=False, force=False, resumable=True, kind=None,
                    keep_earlier=False):
    """Make ``path`` ready for a training run without losing anything by accident.

    A new or empty directory is created or used.  An existing run directory is
    refused unless ``resume`` (continue it: it must then exist and, given ``kind``,
    hold a run of that kind) or ``force`` (start over: the files and directories that
    runs write, ``RUN_FILES`` and ``RUN_DIRS``, are removed first, others are left;
    with ``keep_earlier``, set aside instead: see ``EarlierRun``).  ``resumable=False``
    is for commands without ``--resume``: the refusal then offers only ``--force``.

    Returns
    -------
    EarlierRun or None
        With ``keep_earlier``, the run that ``force`` set aside: the caller calls its
        ``settle`` when the new run ends, however it ends.

    Raises
    ------
    ValueError
        With a message that says what to do.
    """
    path = os.fspath(path)
    if resume and force:
        raise ValueError("--resume and --force: choose one (continue the run, or start over)")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{path}: exists and is not a directory")
    EarlierRun.recover(path)  # (what a start over stopped halfway left)
    exists = os.path.isdir(path) and any(not name.startswith(".") for name in os.listdir(path))
    if resume:
        if not exists:
            raise ValueError(f"{path}: nothing to resume (no such run directory, or empty)")
        found = run_kind(path)
        if kind is not None and found != kind:
            raise ValueError(f"{path}: holds {RUN_KINDS.get(found, 'no run that can resume')}, "
                             f"not {RUN_KINDS[kind]}: nothing to resume; choose another --out, "
                             "or --force to replace it")
        return None
    if exists and not force:
        if not resumable:
            raise ValueError(f"{path}: already holds a run; use --force to overwrite it, or "
                             "choose another directory")
        raise ValueError(f"{path}: already holds a run; use --resume to continue it or "
                         "--force to start over and overwrite it")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{path}: cannot create the directory ({e.strerror})") from None
    if exists and keep_earlier:  # (force)
        return EarlierRun.set_aside(path)
    if exists:
        remove_run_outputs(path)
    return None


class EarlierRun:
    """The outputs of a run that ``--force`` replaces, kept in ``path/.replaced`` while the
    new run runs.  ``settle``, when it ends, keeps the new run where it stored a result
    (``has_results``: it trained something, or stopped and saved a resumable state) and
    removes the earlier one; where it stored none (bad input, nothing trained, stopped
    before anything finished), it removes what the new run wrote and puts the earlier run
    back, so that a failed start over loses nothing.

    Every step can be stopped (Ctrl-C, a kill) and finished later by ``recover``, which
    the next ``prepare_run_dir`` calls: the outputs are moved aside into ``.replacing``,
    which becomes ``.replaced`` by one rename (a ``.replacing`` left over is moved back
    whole), and a put-back records its phase in ``.replaced/.phase`` before it removes
    or moves anything (a recorded phase is carried on, never decided again).  A
    ``.replaced`` without a phase, left by a start over killed while it ran, is settled
    by the same rule as at its end.
    """

    def __init__(self, path):
        self.path = path
        self.aside = os.path.join(path, REPLACED)

    @classmethod
    def set_aside(cls, path):
        earlier = cls(path)
        replacing = os.path.join(path, REPLACING)
        os.makedirs(replacing)
        _move_outputs(path, replacing)
        os.replace(replacing, earlier.aside)
        return earlier

    @classmethod
    def recover(cls, path):
        """Finish what a start over that was stopped halfway left in ``path``."""
        replacing = os.path.join(path, REPLACING)
        if os.path.isdir(replacing):  # (set aside in part: the new run never began)
            _move_outputs(replacing, path)
            shutil.rmtree(replacing, ignore_errors=True)
        shutil.rmtree(os.path.join(path, REPLACED + "-done"), ignore_errors=True)
        cls(path).settle()

    def settle(self, keep_new=None):
        """Keep the new run if it stored a result (or ``keep_new`` says so), else put the
        earlier one back.

        Returns
        -------
        bool
            Whether the earlier run was put back.
        """
        if not os.path.isdir(self.aside):
            return False
        phase_file = os.path.join(self.aside, ".phase")
        try:
            with open(phase_file, encoding="utf-8") as f:
                phase = f.read().strip()
        except OSError:
            phase = None
        if phase is None:
            if has_results(self.path) if keep_new is None else keep_new:
                self._remove()
                return False
            _write_phase(phase_file, "removing")
        if phase != "restoring":  # (removing again is harmless until restoring is recorded)
            remove_run_outputs(self.path)
            _write_phase(phase_file, "restoring")
        _move_outputs(self.aside, self.path)
        self._remove()
        return True

    def _remove(self):
        """Remove ``.replaced`` by one rename first: a stop while its files go never leaves
        a ``.replaced`` that a later ``recover`` would judge."""
        done = self.aside + "-done"
        shutil.rmtree(done, ignore_errors=True)
        os.replace(self.aside, done)
        shutil.rmtree(done, ignore_errors=True)


def _write_phase(path, phase):
    """Record ``phase`` whole or not at all (a temporary file, then a rename)."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(phase)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def has_results(path):
    """Whether the run in ``path`` stored a result: a checkpoint beside its metrics.json at
    the top (a series run, or a text run's last state), or a series' or a trial's
    checkpoint beside its result file."""
    outputs = set(_run_outputs(path))
    if "sweep.json" in outputs and _finished_unranked(os.path.join(path, "sweep.json")):
        return False  # (trained, but nothing to rank: no best model)
    if "metrics.json" in outputs and outputs & {"model.safetensors", "last.safetensors"}:
        return True
    return any(name.endswith(".json") and name[:-len(".json")] + ".safetensors" in outputs
               for name in outputs if os.sep in name)


def _finished_unranked(sweep_json):
    """Whether a sweep's summary says it finished without a best combination."""
    try:
        with open(sweep_json, encoding="utf-8") as f:
            summary = json.load(f)
        return summary.get("status") == "finished" and summary.get("best") is None
    except (OSError, ValueError, AttributeError):
        return False


def _run_outputs(path, files=RUN_FILES, dirs=RUN_DIRS):
    """The paths, relative to ``path``, of ``files`` and of the checkpoints and JSON files
    under its ``dirs``: what runs write there (a user's own files are not among them)."""
    found = [name for name in files if os.path.isfile(os.path.join(path, name))]
    for name in dirs:
        for root, _, names in os.walk(os.path.join(path, name)):
            found += [os.path.relpath(os.path.join(root, n), path) for n in names
                      if n.endswith((".safetensors", ".json")) and not n.startswith(".tmp-")]
    return found


def _prune(path, dirs=RUN_DIRS):
    """Remove the empty directories under ``path``'s ``dirs``."""
    for name in dirs:
        for root, _, _ in os.walk(os.path.join(path, name), topdown=False):
            if not os.listdir(root):
                os.rmdir(root)


def _move_outputs(source, target):
    """Move the run's outputs from ``source`` to the same places under ``target``."""
    for name in _run_outputs(source):
        os.makedirs(os.path.dirname(os.path.join(target, name)), exist_ok=True)
        os.replace(os.path.join(source, name), os.path.join(target, name))
    _prune(source)


def remove_run_outputs(path, files=RUN_FILES, dirs=RUN_DIRS):
    """Remove ``files`` from ``path``, and the checkpoints and JSON files under its ``dirs``
    (then those directories, if empty)."""
    for name in _run_outputs(path, files, dirs):
        os.remove(os.path.join(path, name))
    _prune(path, dirs)


class Run(typing.NamedTuple):
    """What ``load_run`` returns."""
    kind: str       # 'text', 'series' or 'panel' (a sweep: its best combination's)
    model: object   # a TextGenerator, a Forecaster, or {series id: Forecaster}
    metrics: dict   # the run's metrics.json (None where it has none)


def load_run(path):
    """The trained model of a run directory, whichever job wrote it.

    A text run gives its best model (``TextGenerator``), a series run its
    ``Forecaster``, a many-series run every series' forecaster, and a sweep the model
    of its best combination (copied to its top).

    Raises
    ------
    ValueError
        When ``path`` is not a run directory with a model (a ``CheckpointError`` for a
        broken checkpoint).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"{path}: no such run directory")
    metrics = None
    try:
        with open(os.path.join(path, "metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
    except (OSError, ValueError):
        pass
    if isinstance(metrics, dict) and metrics.get("kind") == "panel":
        from ..forecast.panel import load_panel

        return Run("panel", load_panel(path)[1], metrics)
    if any(os.path.exists(os.path.join(path, n)) for n in ("best.safetensors", "last.safetensors")):
        from ..text.generator import TextGenerator

        return Run("text", TextGenerator.load(path), metrics)
    if os.path.exists(os.path.join(path, "model.safetensors")):
        from ..forecast.model import Forecaster

        return Run("series", Forecaster.load(os.path.join(path, "model.safetensors")), metrics)
    raise ValueError(f"{path}: no model here (best.safetensors, model.safetensors or a "
                     "many-series run's metrics.json); is it a numbarnn run directory?")

