"""Checkpoints and run directories: safe to write, safe to read.

A checkpoint is one ``safetensors`` file: the arrays (weights under PyTorch's
names, optimiser state, carried hidden state) plus a JSON metadata block that
says it is a numbarnn checkpoint, of which kind (``"text"``, ``"series"``), and
holds the configuration, vocabulary or scaler, and training position.

Loading parses the file's header itself before handing the bytes to
``safetensors``, so a missing, truncated or foreign file gives one clear
``CheckpointError`` and nothing in the file is ever executed.  Writing goes to a
temporary file in the same directory, then renames it over the target, so a run
killed mid-write leaves the previous checkpoint intact.
"""
import contextlib
import datetime
import json
import os
import socket
import struct
import tempfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: a lock on the file's first byte instead
    fcntl = None
    import msvcrt

FORMAT = "numbarnn"
FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that is missing, malformed, or not the kind expected."""


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, data):
    """Write ``data`` (bytes or str) to ``path`` through a temporary file and a rename.

    If the write fails (a full disk, say), the temporary file is removed and the
    ``OSError`` names ``path`` and says that its earlier version, if any, is intact.
    """
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    existed = os.path.exists(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not for results
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        kept = (f"the previous {os.path.basename(path)} is intact" if existed
                else "nothing was replaced")
        raise OSError(e.errno, f"could not be written ({e.strerror or e}); {kept}",
                      path) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj):
    """``obj`` as indented JSON, written atomically."""
    write_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def save_checkpoint(path, tensors, metadata, kind):
    """Write ``tensors`` (name -> NumPy array) and ``metadata`` (JSON-able) atomically.

    Parameters
    ----------
    path : str or path-like
    tensors : dict of str -> np.ndarray
    metadata : dict
        Anything ``json.dumps`` accepts; comes back from ``load_checkpoint``.
    kind : str
        What the checkpoint holds (``"text"``, ``"series"``); checked on load.
    """
    from safetensors.numpy import save

    arrays = {name: np.require(value, requirements="C") for name, value in tensors.items()}
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "kind": kind,
              "metadata": json.dumps(metadata, allow_nan=False, sort_keys=True)}
    write_atomic(path, _sorted_header(save(arrays, metadata=header)))


def _sorted_header(data):
    """The same safetensors bytes with the JSON header's keys sorted.

    safetensors writes the header from a hash map, in an order that changes from
    process to process; sorted, the same checkpoint is the same bytes anywhere.
    The tensor offsets count from the end of the header, so they stay valid.
    """
    (size,) = struct.unpack("<Q", data[:8])
    header = json.dumps(json.loads(data[8:8 + size]), sort_keys=True,
                        separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)  # safetensors keeps the data 8-byte aligned
    return struct.pack("<Q", len(header)) + header + data[8 + size:]


def _read_header(path, data):
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a checkpoint (the file is {len(data)} bytes long; "
                              "truncated?)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (header of {size} "
                              f"bytes in a file of {len(data)})")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: not a safetensors file (unreadable header)") from None
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                  default=0)
        metadata = header.get("__metadata__") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        raise CheckpointError(f"{path}: not a safetensors file (malformed header)") from None
    if 8 + size + end > len(data):
        raise CheckpointError(f"{path}: truncated ({len(data)} bytes, the header describes "
                              f"{8 + size + end})")
    return metadata


def load_checkpoint(path, kind):
    """Read a checkpoint written by ``save_checkpoint``.

    Returns
    -------
    tensors : dict of str -> np.ndarray
    metadata : dict

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, not safetensors, not a numbarnn
        checkpoint, of a newer format, or of another ``kind``.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a directory, expected a checkpoint file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({e.strerror})") from None
    header = _read_header(path, data)
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: a safetensors file, but not a numbarnn checkpoint")
    try:
        version = int(header.get("format_version", ""))
    except (TypeError, ValueError):
        version = None
    if version is None or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {header.get('format_version')!r}, "
                              f"this numbarnn reads up to {FORMAT_VERSION}; upgrade numbarnn")
    if header.get("kind") != kind:
        raise CheckpointError(f"{path}: a {header.get('kind')!r} checkpoint, expected {kind!r}")
    try:
        metadata = json.loads(header["metadata"])
        tensors = load(data)
    except (KeyError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"{path}: malformed checkpoint ({e})") from None
    return tensors, metadata


# What runs write: removed by ``--force``, so that nothing of the earlier run is taken
# for the new one's (a stale best model, say).  Files inside the directories too.
RUN_FILES = ("model.safetensors", "best.safetensors", "last.safetensors", "metrics.json",
             "metrics.csv", "sweep.json", "sweep.csv")
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


def prepare_run_dir(path, resume=False, force=False, resumable=True, kind=None):
    """Make ``path`` ready for a training run without losing anything by accident.

    A new or empty directory is created or used.  An existing run directory is
    refused unless ``resume`` (continue it: it must then exist and, given ``kind``,
    hold a run of that kind) or ``force`` (start over: the files and directories that
    runs write, ``RUN_FILES`` and ``RUN_DIRS``, are removed first; others are left).
    ``resumable=False`` is for commands without ``--resume``: the refusal then
    offers only ``--force``.

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
    exists = os.path.isdir(path) and any(not name.startswith(".") for name in os.listdir(path))
    if resume:
        if not exists:
            raise ValueError(f"{path}: nothing to resume (no such run directory, or empty)")
        found = run_kind(path)
        if kind is not None and found != kind:
            raise ValueError(f"{path}: holds {RUN_KINDS.get(found, 'no run that can resume')}, "
                             f"not {RUN_KINDS[kind]}: nothing to resume; choose another --out, "
                             "or --force to replace it")
        return
    if exists and not force:
        if not resumable:
            raise ValueError(f"{path}: already holds a run; use --force to overwrite it, or "
                             "choose another directory")
        raise ValueError(f"{path}: already holds a run; use --resume to continue it or "
                         "--force to start over and overwrite it")
    if exists:
        remove_run_outputs(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{path}: cannot create the directory ({e.strerror})") from None


def remove_run_outputs(path, files=RUN_FILES, dirs=RUN_DIRS):
    """Remove ``files`` from ``path``, and the checkpoints and JSON files under its ``dirs``
    (then those directories, if empty)."""
    for name in files:
        if os.path.isfile(os.path.join(path, name)):
            os.remove(os.path.join(path, name))
    for name in dirs:
        for root, _, found in os.walk(os.path.join(path, name), topdown=False):
            for file in found:
                if file.endswith((".safetensors", ".json")):
                    os.remove(os.path.join(root, file))
            if not os.listdir(root):
                os.rmdir(root)
