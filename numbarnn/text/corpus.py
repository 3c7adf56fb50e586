"""Text data for character models: corpus, vocabulary, and batches for truncated BPTT."""
import ast
import hashlib
import os
import sys
import sysconfig

import numpy as np

from .._checks import read_bytes

BUILTIN_MAX_CHARS = 1_000_000
# Parts of the standard library left out of the built-in corpus: tests, and
# application code whose docstrings say little
_SKIPPED_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__",
                 "lib2to3", "turtledemo", "ensurepip", "venv", "tkinter", "pydoc_data"}


class Vocabulary:
    """The sorted set of characters of a text, and the maps to and from token ids.

    Parameters
    ----------
    chars : iterable of str
        Single characters; duplicates are dropped and the rest sorted.
    """

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        if not self.chars or any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("vocabulary: expected a non-empty collection of single characters")
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._lookup = None

    @classmethod
    def from_text(cls, text):
        return cls(set(text))

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def __repr__(self):
        return f"Vocabulary({len(self)} characters)"

    def unknown(self, text):
        """The characters of ``text`` not in the vocabulary, sorted."""
        return sorted(set(text) - set(self.index))

    def encode(self, text):
        """Token ids (int32) of ``text``; every character must be in the vocabulary."""
        missing = self.unknown(text)
        if missing:
            raise ValueError(f"text has {len(missing)} character(s) the model never saw: "
                             + " ".join(repr(c) for c in missing[:20])
                             + (" ..." if len(missing) > 20 else ""))
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if self._lookup is None:  # a dense code-point table: one gather encodes any length
            top = max(ord(c) for c in self.chars)
            self._lookup = np.full(top + 1, -1, dtype=np.int32)
            self._lookup[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        return self._lookup[codes]

    def decode(self, tokens):
        """The text of a sequence of token ids."""
        return "".join(self.chars[int(t)] for t in tokens)


def read_corpus(path, encoding="utf-8"):
    """The text of a corpus file.

    Raises
    ------
    ValueError
        For a missing file, a directory, an unknown encoding, bytes that are not
        valid in ``encoding`` (with their offset), or an empty file.
    """
    path = os.fspath(path)
    data = read_bytes(path, expected="a text file")
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ValueError(f"--encoding: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid {encoding} at byte offset {e.start} "
                         f"({data[e.start:e.start + 4]!r}); give the right --encoding") from None
    if not text:
        raise ValueError(f"{path}: the file is empty")
    return text


def _stdlib_sources():
    """The standard library's .py files (minus tests and applications), in a fixed order."""
    root = sysconfig.get_paths()["stdlib"]
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        found += [os.path.join(directory, f) for f in files if f.endswith(".py")]
    return root, sorted(found, key=lambda p: os.path.relpath(p, root).replace(os.sep, "/"))


def _docstrings(source):
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc


def _builtin_cache_path(max_chars):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = hashlib.sha256(f"{sys.version}|{sysconfig.get_paths()['stdlib']}|{max_chars}"
                         .encode()).hexdigest()[:16]
    return os.path.join(base, "numbarnn", f"builtin-corpus-{tag}.txt")


def builtin_corpus(max_chars=BUILTIN_MAX_CHARS):
    """A corpus every Python installation carries: the standard library's docstrings.

    The docstrings of modules, classes and functions, read with ``ast`` from the
    standard library's source files in sorted path order (tests, IDLE, tkinter
    and a few other application packages left out), joined by blank lines and
    cut at ``max_chars`` characters.  The same Python version gives the same
    text.  The assembled text is cached under ``~/.cache/numbarnn`` (when
    writable), since parsing takes about a second.

    Returns
    -------
    text : str
    description : str
        What was used, for the user.
    """
    root, sources = _stdlib_sources()
    version = sys.version.split()[0]
    cache = _builtin_cache_path(max_chars)
    text = None
    try:
        with open(cache, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        pass
    if not text:
        parts, size = [], 0
        for path in sources:
            try:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
            except (OSError, UnicodeDecodeError):
                continue
            for doc in _docstrings(source):
                parts.append(doc)
                size += len(doc) + 2
            if size >= max_chars:
                break
        text = "\n\n".join(parts)[:max_chars]
        if not text:
            raise ValueError(f"no Python sources with docstrings found under {root}; "
                             "give a CORPUS file")
        try:
            from ..checkpoints import write_atomic
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            write_atomic(cache, text)
        except OSError:
            pass  # no cache: the next run parses again
    return text, (f"built-in corpus: docstrings of the Python {version} standard library "
                  f"({len(text):,} characters from {root})")


def split_text(text, val_frac):
    """``(train, validation)``: the validation part is the last ``val_frac`` of the text."""
    if not 0.0 <= val_frac < 1.0:
        raise ValueError(f"--val-frac: got {val_frac!r}, expected a fraction in [0, 1)")
    cut = len(text) - int(round(len(text) * val_frac))
    return text[:cut], text[cut:]


class StreamBatches:
    """Batches for truncated backpropagation through time.

    The text is cut into ``batch_size`` equal, contiguous streams laid side by
    side; chunk ``i`` holds steps ``i * seq_len`` to ``(i + 1) * seq_len`` of
    every stream.  Consecutive chunks continue each stream, so the hidden state
    at the end of one chunk is the right start for the next.  The targets are
    the inputs shifted by one character; the tail that does not fill a whole
    chunk is left out.

    Parameters
    ----------
    tokens : (N,) integer array
    batch_size, seq_len : int
    what : str
        Names the text in errors ('training text', 'validation text').
    """

    def __init__(self, tokens, batch_size, seq_len, what="text"):
        tokens = np.asarray(tokens)
        B, S = batch_size, seq_len
        need = B * S + 1
        if len(tokens) < need:
            raise ValueError(f"the {what} has {len(tokens):,} characters; one batch of "
                             f"{B} sequences of {S} needs at least {need:,} "
                             "(use a longer text, a smaller --batch-size or a shorter --seq-len)")
        length = (len(tokens) - 1) // B  # steps per stream
        self.batch_size, self.seq_len = B, S
        self.num_chunks = length // S
        used = self.num_chunks * S
        starts = np.arange(B) * length
        # (steps, B) time-major, so that a chunk is one contiguous slice
        self.inputs = np.ascontiguousarray(np.stack([tokens[s:s + used] for s in starts], 1))
        self.targets = np.ascontiguousarray(np.stack([tokens[s + 1:s + 1 + used] for s in starts], 1))

    def __len__(self):
        return self.num_chunks

    @property
    def chars_per_chunk(self):
        return self.batch_size * self.seq_len

    def chunk(self, i):
        """``(inputs, targets)`` of chunk ``i``, each (seq_len, batch_size)."""
        rows = slice(i * self.seq_len, (i + 1) * self.seq_len)
        return self.inputs[rows], self.targets[rows]


def text_fingerprint(text):
    """A short hash of a text: resuming checks that the corpus is the same."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
