"""Checkpoints: safe to write, safe to read.

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
import json
import os
import struct
import tempfile

import numpy as np

from ._checks import read_bytes

FORMAT = "numbarnn"
# The newest format this code reads.  A checkpoint is stamped with the oldest format that
# holds what it needs (``save_checkpoint``'s ``version``), so that an older numbarnn reads
# every checkpoint it can and refuses, with "upgrade numbarnn", one it would misread.
# 2: a series checkpoint combined with a statistical partner other than the Theta method
# (the regression, the naive forecast: an older numbarnn would combine it with Theta
# without a word).  3: the same with seasonal naive's forecast.  4: with the ARIMA forecast,
# or the mean of the Theta method's and the ARIMA one.  5: a series checkpoint that keeps
# its forecasts at 0 or above (an older numbarnn would forecast below 0), or winsorizes
# the differenced series (a transform an older numbarnn does not know).  6: a series
# checkpoint whose intervals' calibration errors are in units of its statistical partner's
# spread (an older numbarnn would take them for the errors themselves: intervals far too
# narrow).  The statistical partners are not stored: they are fitted again from the data at
# every forecast, by the numbarnn that reads the checkpoint (the Theta/ARIMA mean's shares,
# ``arima.ARIMA_SHARES``, are this numbarnn's).
FORMAT_VERSION = 6
_MAX_HEADER = 100 * 1024 * 1024


def join_states(parts):
    """One state dict from ``(prefix, state dict)`` pairs, each name as ``prefix.name``: how
    every composite model (``CharRNN``, a forecaster's networks) names its parts' arrays."""
    return {f"{prefix}.{name}": value for prefix, state in parts for name, value in state.items()}


def part_state(state, prefix):
    """The entries of ``state`` named ``prefix.name``, as ``name``: one part of
    ``join_states``."""
    start = len(prefix) + 1
    return {name[start:]: value for name, value in state.items()
            if name.startswith(prefix + ".")}


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
    tmp = None
    try:
        # (inside: a missing or read-only directory is an error about path, not the tmp)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path),
                                   dir=directory)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not for results
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        kept = (f"the previous {os.path.basename(path)} is intact" if existed
                else "nothing was replaced")
        raise OSError(e.errno, f"could not be written ({e.strerror or e}); {kept}",
                      path) from None
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj):
    """``obj`` as indented JSON, written atomically."""
    write_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def save_checkpoint(path, tensors, metadata, kind, version=1):
    """Write ``tensors`` (name -> NumPy array) and ``metadata`` (JSON-able) atomically.

    Parameters
    ----------
    path : str or path-like
    tensors : dict of str -> np.ndarray
    metadata : dict
        Anything ``json.dumps`` accepts; comes back from ``load_checkpoint``.
    kind : str
        What the checkpoint holds (``"text"``, ``"series"``); checked on load.
    version : int
        The oldest format that holds what the checkpoint needs (``FORMAT_VERSION``).
    """
    from safetensors.numpy import save

    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"version: got {version!r}, expected 1 to {FORMAT_VERSION}")
    arrays = {name: np.require(value, requirements="C") for name, value in tensors.items()}
    header = {"format": FORMAT, "format_version": str(version), "kind": kind,
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
    data = read_bytes(path, "a checkpoint file", "no such checkpoint", CheckpointError)
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


def __getattr__(name):  # the run-directory functions moved to numbarnn.runs.run_dir
    from ._moved import moved_name

    return moved_name("checkpoints", name)

