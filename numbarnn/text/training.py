"""Training a character-level model: the loop, evaluation, checkpoints and resume.

>>> from numbarnn import TextConfig
>>> from numbarnn.text import TextTrainer
>>> trainer = TextTrainer(text, config=TextConfig(hidden_size=128, seed=0))
>>> summary = trainer.train(steps=500, out_dir="runs/mine")

(``TextTrainer(text, hidden_size=128, seed=0)`` is the same: keyword settings
change the config's defaults.)

``TextTrainer`` holds everything a run is: the model, the optimiser, the data
position (epoch, chunk, the hidden state carried between chunks), the random
generators and the history.  A checkpoint stores all of it, so a resumed run
continues exactly as the uninterrupted one would have.
"""
import math
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from .. import __version__
from .._checks import check_int, check_memory
from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint, write_json
from ..layers import LAYERS
from ..losses import cross_entropy, softmax_cross_entropy
from ..optim import clip_grad_norm, clip_grad_value, make_optimizer, scheduled_lr
from ..precompile import compile_for_run
from ..progress import format_seconds
from .config import TextConfig
from .corpus import StreamBatches, Vocabulary, split_text, text_fingerprint
from .model import CharRNN

CHECKPOINT_KIND = "text"

#: The defaults of ``numbarnn train-text`` (``TextConfig``'s), as a dict.
DEFAULTS = TextConfig().to_dict()
#: A run has diverged when a loss (nats per character) is not finite or above this many
#: times ln V, the loss of the uniform model it starts near; it stops there.
DIVERGED = 3.0


_blas = []


@contextmanager
def single_threaded_blas():
    """A context in which the BLAS libraries (NumPy's, and SciPy's that numba calls)
    run on the calling thread only, and as they were afterwards (the workers run side
    by side; direct ``set_num_threads`` calls, less than half the cost of threadpoolctl's
    ``limit``)."""
    if not _blas:
        import scipy.linalg.cython_blas  # noqa: F401  (loaded, so that it is found)
        from threadpoolctl import ThreadpoolController
        _blas.append([lib for lib in ThreadpoolController().lib_controllers
                      if lib.user_api == "blas"])
    libs = _blas[0]
    before = [lib.get_num_threads() for lib in libs]
    for lib, n in zip(libs, before):
        if n != 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            if n != 1:
                lib.set_num_threads(n)


class TextTrainer:
    """Train a ``CharRNN`` on a text with truncated backpropagation through time.

    Parameters
    ----------
    text : str
        The corpus; the last ``val_frac`` of it is held out for validation.
    corpus_name : str
        How the corpus is described in metrics and checkpoints.
    config : TextConfig, optional
        The run's settings (model, batching, optimiser, clipping, schedule,
        evaluation, seed, workers, device); its defaults if None.
    **options
        Settings changed from ``config`` (any of its fields), checked as it is.

    Notes
    -----
    ``workers`` threads share each batch: every one runs the forward, loss and
    backward of its own group of streams on a replica of the model (the
    compiled kernels release the GIL) with single-threaded BLAS, and their
    gradients are summed in a fixed order.  On small per-step products this
    uses the cores far better than one multi-threaded BLAS call per step, and
    the result does not depend on thread timing: ``workers`` is part of the
    configuration, so the same seed gives the same run on any machine.
    """

    def __init__(self, text, corpus_name="text", config=None, **options):
        if config is None:
            config = TextConfig.from_dict(options)
        elif not isinstance(config, TextConfig):
            raise ValueError(f"config: got {type(config).__name__}, expected a TextConfig")
        elif options:
            config = config.replace(**options)
        self.settings = config
        self.config = config.to_dict()  # (the JSON-able form checkpoints and metrics keep)
        c = self.config
        self.corpus = {"name": corpus_name, "chars": len(text),
                       "fingerprint": text_fingerprint(text)}
        self.vocab = Vocabulary.from_text(text)
        train_text, val_text = split_text(text, c["val_frac"])
        self.batches = StreamBatches(self.vocab.encode(train_text), c["batch_size"], c["seq_len"],
                                     "training text")
        self.val_batches = None
        if c["val_frac"] > 0:
            streams = min(c["batch_size"], (len(val_text) - 1) // c["seq_len"])
            if streams < 1:
                raise ValueError(f"the validation text (the last {c['val_frac']:g} of the "
                                 f"corpus) has {len(val_text):,} characters, fewer than one "
                                 f"sequence needs ({c['seq_len'] + 1}); use a larger --val-frac, "
                                 "a shorter --seq-len, or --val-frac 0")
            self.val_batches = StreamBatches(self.vocab.encode(val_text), streams, c["seq_len"],
                                             "validation text")
        check_memory(f"hidden_size {c['hidden_size']} ({c['num_layers']} layer(s), "
                     f"vocabulary of {len(self.vocab)})", training_bytes(config, len(self.vocab)))
        self.model = CharRNN(len(self.vocab), **config.model_options(), seed=c["seed"],
                             device=c["device"])
        self.optimizer = make_optimizer(c["optimizer"], self.model, lr=c["lr"],
                                        weight_decay=c["weight_decay"])
        self._grads = list(self.model.grads.values())
        replica_seeds = np.random.SeedSequence(c["seed"]).spawn(c["workers"])[1:]
        self.replicas = [self.model] + [self.model.replica(s) for s in replica_seeds]
        self._pool = None
        # where the run stands
        self.step = 0
        self.epoch = 0
        self.chunk = 0
        self.carry = [None] * c["workers"]  # the hidden state of each worker's streams
        self.seconds = 0.0        # wall time inside train(), evaluation and saving included
        self.train_seconds = 0.0  # time in training steps only
        self.compile_seconds = 0.0  # compiling the kernels before the first step (0: cached)
        self.history = []
        self.best_val_loss = math.inf
        self.best_step = None
        self._losses = []  # training losses since the last evaluation
        self.divergence = None  # where and how the run diverged, if it did

    # ------------------------------------------------------------------ one step
    def _parallel(self, work, streams):
        """``work(replica, columns)`` for each worker's share of ``streams`` columns, in
        threads, with one BLAS thread each; returns the results in worker order."""
        bounds = np.linspace(0, streams, len(self.replicas) + 1).round().astype(int)
        parts = [(m, slice(a, b)) for m, a, b in zip(self.replicas, bounds[:-1], bounds[1:])
                 if b > a]
        with single_threaded_blas():
            if len(parts) == 1:
                return [work(*parts[0])]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(self.replicas), "numbarnn-train")
            return list(self._pool.map(lambda part: work(*part), parts))

    def train_step(self):
        """One truncated-BPTT step on the next chunk; returns its mean loss (nats/char)."""
        c = self.config
        if self.chunk == 0:
            self.carry = [None] * len(self.replicas)  # each epoch starts from a zero state
        inputs, targets = self.batches.chunk(self.chunk)
        self.optimizer.lr = scheduled_lr(c["lr_schedule"], c["lr"], self.step + 1,
                                         self._total_steps, c["lr_step"], c["lr_gamma"])
        B = inputs.shape[1]

        def work(model, cols):
            w = self.replicas.index(model)
            logits, state = model.forward(np.ascontiguousarray(inputs[:, cols]), self.carry[w])
            flat = logits.reshape(-1, logits.shape[-1])
            loss = softmax_cross_entropy(flat, np.ascontiguousarray(targets[:, cols]).ravel(),
                                         flat)  # the gradient overwrites the logits
            share = (cols.stop - cols.start) / B  # of the batch mean
            flat *= share
            model.backward(logits)
            return loss * share, state

        results = self._parallel(work, B)
        loss = sum(r[0] for r in results)
        if self.diverged(loss):
            return loss  # (no update: the weights stay those of the last good step)
        for name, grad in self.model.grads.items():
            for replica in self.replicas[1:]:
                grad += replica.grads[name]
        if c["clip"] > 0:
            if c["clip_mode"] == "norm":
                clip_grad_norm(self._grads, c["clip"])
            else:
                clip_grad_value(self._grads, c["clip"])
        self.optimizer.step()
        self.carry = [r[1] for r in results]  # the loss flows back through this chunk only
        self.step += 1
        self.chunk += 1
        if self.chunk == len(self.batches):
            self.chunk, self.epoch = 0, self.epoch + 1
        return loss

    _total_steps = None  # set by train() for the cosine schedule

    def diverged(self, loss):
        """Whether ``loss`` (nats per character) says the run has diverged: not finite, or
        above ``DIVERGED`` times ln V."""
        return loss is not None and not (math.isfinite(loss)
                                         and loss <= DIVERGED * math.log(len(self.vocab)))

    def evaluate(self):
        """Mean validation loss in nats per character (state carried over the whole text)."""
        if self.val_batches is None:
            return None
        val = self.val_batches

        def work(model, cols):
            total, state = 0.0, None
            for i in range(len(val)):
                inputs, targets = val.chunk(i)
                logits, state = model.forward(np.ascontiguousarray(inputs[:, cols]), state,
                                              train=False)
                total += cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       np.ascontiguousarray(targets[:, cols]).ravel())
            return total * (cols.stop - cols.start) / val.batch_size

        return sum(self._parallel(work, val.batch_size)) / len(val)

    # ------------------------------------------------------------------ the loop
    def train(self, steps=None, epochs=None, time_budget=None, out_dir=None, progress=None,
              handle_interrupt=True):
        """Train until the first of ``steps`` (total), ``epochs`` (total) or
        ``time_budget`` (total seconds) is reached.

        Every ``eval_every`` steps and at the end: validation, ``history``, and,
        with ``out_dir``, ``best.safetensors`` (when the validation loss
        improves), ``last.safetensors`` and ``metrics.json``.

        Parameters
        ----------
        steps, epochs, time_budget : int, int, float, at least one given
            Totals over the run, counting any earlier (resumed) part.
        out_dir : str or None
            Directory for checkpoints and metrics (created if missing; files of
            an earlier run there are overwritten).
        progress : numbarnn.progress.Progress or None
        handle_interrupt : bool
            In the main thread, Ctrl-C finishes the current step, saves
            ``last.safetensors`` and returns with status ``'interrupted'`` (a
            second Ctrl-C stops at once); before the first step, it writes nothing.

        Returns
        -------
        dict
            The summary also written to ``metrics.json``.
        """
        if steps is None and epochs is None and time_budget is None:
            raise ValueError("give at least one of steps, epochs, time_budget")
        for name, value in (("steps", steps), ("epochs", epochs)):
            if value is not None:
                check_int(name, value, 1)
        if time_budget is not None and not time_budget > 0:
            raise ValueError(f"time_budget: got {time_budget!r}, expected a positive number "
                             "of seconds")
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
        targets = [s for s in (steps, epochs and epochs * len(self.batches)) if s]
        self._total_steps = min(targets) if targets else None
        if self.config["lr_schedule"] == "cosine" and self._total_steps is None:
            raise ValueError("--lr-schedule cosine needs --steps or --epochs to know its length")

        interrupted = threading.Event()
        previous = None
        if handle_interrupt and threading.current_thread() is threading.main_thread():
            def on_sigint(signum, frame):
                if interrupted.is_set():
                    raise KeyboardInterrupt
                interrupted.set()
            previous = signal.signal(signal.SIGINT, on_sigint)

        self.compile_seconds = _compile_kernels(self.config, progress)
        status = "finished"
        start, first_step = time.perf_counter(), self.step
        base_seconds = self.seconds
        try:
            while True:
                if self._total_steps is not None and self.step >= self._total_steps:
                    break
                if time_budget is not None and self.seconds >= time_budget:
                    break
                if interrupted.is_set():
                    status = "interrupted"
                    break
                t0 = time.perf_counter()
                loss = self.train_step()
                self.train_seconds += time.perf_counter() - t0
                self.seconds = base_seconds + time.perf_counter() - start
                if self.diverged(loss):
                    status = "diverged"
                    self.divergence = {"step": self.step + 1, "loss": _json_float(loss),
                                       "limit": DIVERGED * math.log(len(self.vocab))}
                    break
                self._losses.append(loss)
                if self.step % self.config["eval_every"] == 0:
                    val_loss = self._checkpoint(out_dir, progress)
                    if self.diverged(val_loss):
                        status = "diverged"
                        self.divergence = {"step": self.step, "loss": _json_float(val_loss),
                                           "limit": DIVERGED * math.log(len(self.vocab))}
                        break
                if progress is not None:
                    progress.update(self._fraction(time_budget), self._status_line(time_budget))
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if status == "interrupted":
            self.seconds = base_seconds + time.perf_counter() - start
            if self.step == first_step:  # (stopped before a step: nothing new to keep)
                return self.summary(status)
            self._save(out_dir, "last.safetensors")
        elif status == "diverged":
            pass  # best.safetensors (and the last good last.safetensors) stay as they are
        elif not self.history or self.history[-1]["step"] != self.step:
            self._checkpoint(out_dir, progress)
        summary = self.summary(status)
        if out_dir is not None:
            write_json(os.path.join(out_dir, "metrics.json"), summary)
        return summary

    def _checkpoint(self, out_dir, progress):
        """Evaluate, record, and write best/last checkpoints and metrics; returns the
        validation loss.  A diverged one is not recorded and nothing is written (the
        run stops with its checkpoints as they were)."""
        val_loss = self.evaluate()
        if self.diverged(val_loss):
            return val_loss
        train_loss = float(np.mean(self._losses)) if self._losses else None
        self._losses = []
        record = {"step": self.step, "epoch": self.epoch + self.chunk / len(self.batches),
                  "seconds": round(self.seconds, 3), "lr": self.optimizer.lr,
                  "train_loss": train_loss, "val_loss": val_loss}
        self.history.append(record)
        improved = val_loss is not None and val_loss < self.best_val_loss
        if improved:
            self.best_val_loss, self.best_step = val_loss, self.step
            self._save(out_dir, "best.safetensors")
        self._save(out_dir, "last.safetensors")
        if out_dir is not None:
            write_json(os.path.join(out_dir, "metrics.json"), self.summary("running"))
        if progress is not None:
            val = f"  val {val_loss:.4f}{' *' if improved else ''}" if val_loss is not None else ""
            loss = f"{train_loss:.4f}" if train_loss is not None else "-"
            progress.log(f"step {self.step:6d}  epoch {record['epoch']:6.2f}  train {loss}{val}"
                         f"  {self.chars_per_second():,.0f} chars/s  "
                         f"{format_seconds(self.seconds)}")
        return val_loss

    def _fraction(self, time_budget):
        parts = []
        if self._total_steps:
            parts.append(self.step / self._total_steps)
        if time_budget:
            parts.append(self.seconds / time_budget)
        return max(parts) if parts else None

    def _status_line(self, time_budget):
        fraction = self._fraction(time_budget)
        left = ""
        if fraction:
            left = f"  left {format_seconds(self.seconds * (1 - fraction) / fraction)}"
        last = self.history[-1]["val_loss"] if self.history else None
        val = f"  val {last:.3f}" if last is not None else ""
        loss = f"  loss {self._losses[-1]:.3f}" if self._losses else ""
        return (f"step {self.step}{loss}{val}  {self.chars_per_second() / 1000:.1f}k chars/s"
                f"{left}")

    def chars_per_second(self):
        """Training throughput: characters per second of training steps."""
        return self.step * self.batches.chars_per_chunk / self.train_seconds \
            if self.train_seconds else 0.0

    def summary(self, status):
        """Everything ``metrics.json`` holds."""
        return {"numbarnn": __version__, "status": status, "corpus": self.corpus,
                "config": self.config, "vocab_size": len(self.vocab),
                "parameters": int(sum(p.size for p in self.model.params.values())),
                "steps": self.step, "epochs": self.epoch + self.chunk / len(self.batches),
                "seconds": round(self.seconds, 3), "train_seconds": round(self.train_seconds, 3),
                "compile_seconds": round(self.compile_seconds, 3),
                "chars_per_second": round(self.chars_per_second(), 1),
                "best_val_loss": None if self.best_step is None else self.best_val_loss,
                "best_step": self.best_step,
                "final_val_loss": self.history[-1]["val_loss"] if self.history else None,
                "diverged": self.divergence if status == "diverged" else None,
                "history": self.history}

    # ------------------------------------------------------------------ checkpoints
    def _save(self, out_dir, name):
        if out_dir is not None:
            self.save(os.path.join(out_dir, name))

    def save(self, path):
        """Write the whole run state (model, optimiser, data position, random state)."""
        tensors = dict(self.model.state_dict())
        opt = self.optimizer.state_dict()
        tensors.update({f"optimizer.{k}": v for k, v in opt["buffers"].items()})
        for w, state in enumerate(self.carry):
            if state is not None:
                parts = state if isinstance(state, tuple) else (state,)
                tensors.update({f"carry.{w}.{i}": np.asarray(p) for i, p in enumerate(parts)})
        metadata = {
            "numbarnn": __version__, "model": self.model.config(), "vocab": self.vocab.chars,
            "train": self.config, "corpus": self.corpus,
            "position": {"step": self.step, "epoch": self.epoch, "chunk": self.chunk},
            "seconds": self.seconds, "train_seconds": self.train_seconds,
            "best": {"val_loss": None if self.best_step is None else self.best_val_loss,
                     "step": self.best_step},
            "pending_losses": self._losses, "history": self.history,
            "optimizer": {"type": opt["type"], "steps": opt["steps"], "hyper": opt["hyper"]},
            "random": [m.random_state() for m in self.replicas],
        }
        save_checkpoint(path, tensors, metadata, CHECKPOINT_KIND)

    @classmethod
    def resume(cls, path, text, corpus_name="text", device=None):
        """A trainer continuing the run saved at ``path``, on the same ``text``; on
        ``device`` if given (a run may move between the CPU and the GPU), else on the
        run's."""
        tensors, meta = load_checkpoint(path, CHECKPOINT_KIND)
        if device is not None and isinstance(meta.get("train"), dict):
            workers = meta["train"].get("workers", 1)
            if device != "cpu" and workers != 1:
                raise ValueError(f"{path}: the run trains with {workers} workers, and on device "
                                 f"{device!r} a model trains on one; resume it on the CPU")
            meta["train"] = {**meta["train"], "device": device}
        try:
            if meta["corpus"]["fingerprint"] != text_fingerprint(text):
                raise ValueError(f"{path}: the run was trained on a different corpus "
                                 f"({meta['corpus']['name']}, {meta['corpus']['chars']:,} "
                                 "characters); resume with the same text")
            trainer = cls(text, corpus_name=corpus_name, **meta["train"])
            model = trainer.model
            model.load_state_dict({k: tensors[k] for k in model.params})
            trainer.optimizer.load_state_dict({**meta["optimizer"], "buffers": {
                k[len("optimizer."):]: v for k, v in tensors.items() if k.startswith("optimizer.")}})
            for w in range(len(trainer.replicas)):
                parts = [tensors[f"carry.{w}.{i}"] for i in range(2) if f"carry.{w}.{i}" in tensors]
                trainer.carry[w] = (tuple(parts) if len(parts) == 2 else parts[0]) if parts \
                    else None
            pos = meta["position"]
            trainer.step, trainer.epoch, trainer.chunk = pos["step"], pos["epoch"], pos["chunk"]
            trainer.seconds, trainer.train_seconds = meta["seconds"], meta["train_seconds"]
            trainer.history = meta["history"]
            trainer._losses = meta["pending_losses"]
            best = meta["best"]
            trainer.best_step = best["step"]
            trainer.best_val_loss = math.inf if best["val_loss"] is None else best["val_loss"]
            if len(meta["random"]) != len(trainer.replicas):
                raise TypeError("random")
            for replica, state in zip(trainer.replicas, meta["random"]):
                replica.set_random_state(state)
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: malformed text checkpoint (missing or bad {e})") \
                from None
        return trainer


def load_text_model(path):
    """The model and vocabulary of a text checkpoint (a file, or a run directory).

    A directory gives its ``best.safetensors``, else its ``last.safetensors``.

    Returns
    -------
    model : CharRNN
    vocab : Vocabulary
    metadata : dict
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.safetensors", "last.safetensors"):
            if os.path.exists(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            raise CheckpointError(f"{path}: no best.safetensors or last.safetensors in this "
                                  "directory; is it a train-text run?")
    tensors, meta = load_checkpoint(path, CHECKPOINT_KIND)
    try:
        vocab = Vocabulary(meta["vocab"])
        model = CharRNN(len(vocab), **{k: v for k, v in meta["model"].items()
                                       if k != "vocab_size"})
        model.load_state_dict({k: tensors[k] for k in model.params if k in tensors})
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: malformed text checkpoint ({e})") from None
    return model, vocab, meta


def train_text_task(task):
    """Train one text model; runs anywhere (plain data in, plain data out), for sweeps.

    Parameters
    ----------
    task : dict
        ``text``, ``corpus_name``, ``config`` (any of ``DEFAULTS``) and the stop:
        ``steps``, ``epochs``, ``time_budget`` (None where not given).

    Returns
    -------
    dict
        ``summary`` (what ``metrics.json`` holds), ``best_val_loss``, ``seconds`` and
        ``checkpoint`` (the bytes of ``best.safetensors``, or of ``last.safetensors``
        without validation); on bad settings (a text too short for them ...) or a
        run that diverges, ``error`` says why and the rest is None.
    """
    import tempfile

    result = {"summary": None, "best_val_loss": None, "seconds": None, "checkpoint": None,
              "error": None}
    try:
        trainer = TextTrainer(task["text"], task["corpus_name"], **task["config"])
    except ValueError as e:
        result["error"] = str(e)
        return result
    with tempfile.TemporaryDirectory(prefix="numbarnn-") as scratch:
        try:
            summary = trainer.train(steps=task["steps"], epochs=task["epochs"],
                                    time_budget=task["time_budget"], out_dir=scratch,
                                    handle_interrupt=False)
        except ValueError as e:  # bad settings
            result["error"] = str(e)
            return result
        if summary["status"] == "diverged":
            result["error"] = diverged_message(summary)
            return result
        name = "best.safetensors" if summary["best_step"] is not None else "last.safetensors"
        with open(os.path.join(scratch, name), "rb") as f:
            result["checkpoint"] = f.read()
    result.update(summary=summary, best_val_loss=summary["best_val_loss"],
                  seconds=summary["seconds"])
    return result


def training_bytes(config, vocab_size):
    """About how much memory a run of ``config`` needs: the parameters, each worker's
    gradients, Adam's two moments, and a step's activations and logits."""
    H, L, E = config.hidden_size, config.num_layers, config.embedding_dim
    G = LAYERS[config.cell]._gates
    inputs = E or vocab_size
    params = vocab_size * E + vocab_size * (H + 1)
    for k in range(L):
        params += G * H * ((inputs if k == 0 else H) + H + 2)
    itemsize = 8 if config.dtype == "float64" else 4
    rows = config.seq_len * config.batch_size
    activations = rows * ((G + 3) * H * L + 2 * vocab_size + E)
    return itemsize * (params * (3 + config.workers) + activations)


def _json_float(value):
    """A float for JSON: nan and inf as strings (JSON has no such numbers)."""
    return value if math.isfinite(value) else str(value)


def diverged_message(summary):
    """One line on where a diverged run stopped and what was kept."""
    d = summary["diverged"]
    best = (f"the best checkpoint (step {summary['best_step']}, validation loss "
            f"{summary['best_val_loss']:.4f}) is kept" if summary["best_step"] is not None
            else "no checkpoint had been written yet")
    return (f"training diverged at step {d['step']}: loss {d['loss']} nats/char, above "
            f"{d['limit']:.2f} ({DIVERGED:g} x ln V); {best}; try a lower --lr or --clip")


def _compile_kernels(config, progress=None):
    """Compile (or load from numba's cache) the kernels a run of ``config`` uses before its
    first step (``precompile.compile_for_run``); returns the compile seconds (0 when they
    came from the cache)."""
    return compile_for_run(config["cell"], config["dtype"], config["device"],
                           tokens=config["embedding_dim"] == 0, progress=progress,
                           warm_up=lambda: warm_up_text_task(config))


def warm_up_text_task(config):
    """Compile (or load from numba's cache) the kernels ``config`` trains with: one step
    on a tiny text.  Returns the seconds taken, imports included."""
    start = time.perf_counter()
    config = {**config, "batch_size": 1, "seq_len": 4, "val_frac": 0.0, "workers": 1}
    TextTrainer("warm-up text " * 4, "warm-up", **config).train(steps=1, handle_interrupt=False)
    return time.perf_counter() - start
