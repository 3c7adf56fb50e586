"""Training the networks: one network's epochs, and networks side by side on the two cores.

``fit_network`` trains one network of an ensemble: Adam on shuffled batches of the
training windows, the gradient norm clipped, the validation loss watched every epoch and
the weights of its lowest kept (early stopping), training stopped where the loss
diverges.  ``side_by_side`` runs independent trainings (an ensemble's members, the
automatic choice's candidates) two at a time, one per core.  ``training`` decides what
they train on.
"""
import math
import os
import threading
import time

import numpy as np


def _batches(rng, n, batch_size, limit):
    """Batches of at most ``limit`` of the ``n`` windows, drawn in a random order."""
    order = rng.permutation(n)[:limit]
    return [order[k:k + batch_size] for k in range(0, order.size, batch_size)]


def loss_function(config):
    """``config.loss`` as ``f(pred, target) -> (loss, gradient)``."""
    from ..losses import mae_loss, mse_loss, point_and_quantiles_loss

    if config.loss == "quantile":
        quantiles = np.array(config.quantiles)
        return lambda pred, target: point_and_quantiles_loss(pred, target, quantiles)
    return mse_loss if config.loss == "mse" else mae_loss


# A network has diverged when a batch loss is not finite, or an epoch's training or validation
# loss is above this many times its first batch's, before any update (on scaled data that is
# near 1); its training stops there.
DIVERGED = 100.0


def fit_network(network, config, x_train, y_train, x_val, y_val, progress=None, label=""):
    """Train one network: Adam with clipping, early stopping on the validation loss.

    The network ends with the weights of its best validation loss (its initial
    ones if no epoch finished), also when it diverged (``DIVERGED``).

    Returns
    -------
    dict
        ``epochs`` run, ``best_epoch``, ``train_loss`` and ``val_loss`` at the best epoch,
        ``windows`` trained on (each epoch's, summed), and ``diverged``: None, or the epoch
        and loss where it stopped.
    """
    from ..optim import Adam, clip_grad_norm

    loss_fn = loss_function(config)
    dtype = network.rnn.dtype
    x_train, y_train = x_train.astype(dtype), y_train.astype(dtype)
    modules = [network.rnn, network.head]
    optimizer = Adam(modules, lr=config.lr)
    rng = np.random.default_rng(int(network.order_seed))  # the order of the batches
    grads = [g for m in modules for g in m.grads.values()]
    best = {"val_loss": math.inf, "best_epoch": 0, "train_loss": math.nan}
    best_state = network.state_dict()
    dout = None
    first, diverged = None, None
    windows, start = 0, time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        total, seen = 0.0, 0
        for idx in _batches(rng, y_train.shape[0], config.batch_size,
                            config.epoch_windows):
            out, _ = network.rnn.forward(x_train[:, idx])
            loss, dpred = loss_fn(network.head.forward(out[-1]), y_train[idx])
            if not math.isfinite(loss):
                diverged = {"epoch": epoch, "loss": str(loss)}
                break
            first = loss if first is None else first
            if dout is None or dout.shape != out.shape:
                dout = np.zeros_like(out)
            dout[-1] = network.head.backward(dpred)  # only the last step feeds the head
            network.rnn.backward(dout)
            if config.clip > 0:
                clip_grad_norm(grads, config.clip)
            optimizer.step()
            total += loss * idx.size
            seen += idx.size
        windows += seen
        if diverged is not None:
            break
        train_loss = total / seen
        if y_val.shape[0]:
            val_loss, _ = loss_fn(network.predict(x_val), y_val)
        else:
            val_loss = train_loss
        worst = max(train_loss, val_loss)
        if not worst <= DIVERGED * max(first, 1e-12):  # (also catches a nan)
            diverged = {"epoch": epoch, "loss": worst if math.isfinite(worst) else str(worst)}
            break
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "best_epoch": epoch, "train_loss": train_loss}
            best_state = network.state_dict()
        if progress is not None:
            rate = windows / max(time.perf_counter() - start, 1e-9)
            progress.update(epoch / config.epochs,
                            f"{label}epoch {epoch}/{config.epochs}  loss {train_loss:.4f}  "
                            f"val {val_loss:.4f}  best {best['val_loss']:.4f} @ "
                            f"{best['best_epoch']}  {rate:,.0f} windows/s")
        if epoch - best["best_epoch"] >= config.patience:
            break
    network.load_state_dict(best_state)
    return {"epochs": epoch, **best, "windows": windows, "diverged": diverged}


class _Guarded:
    """What the threads of ``side_by_side`` share: the progress line (one update at a
    time, or none) and a stop signal, which the next epoch's update raises in every
    thread (``fit_network`` updates once an epoch), so that Ctrl-C or an error in one thread
    ends the others within an epoch."""

    def __init__(self, progress):
        self.progress, self.lock, self.stop = progress, threading.Lock(), threading.Event()

    def update(self, *args):
        if self.stop.is_set():
            raise KeyboardInterrupt("stopped beside another thread")
        if self.progress is not None:
            with self.lock:
                self.progress.update(*args)

    def log(self, *args):
        if self.progress is not None:
            with self.lock:
                self.progress.log(*args)


def side_by_side(function, items, progress, device):
    """``[function(k, item, progress) for k, item in enumerate(items)]``, two at a time on
    the CPU's two cores where this is the main thread and nothing says otherwise.

    The networks of an ensemble and the candidates of the automatic choice are
    independent: each thread trains its own with one-thread kernels (``kernel_threads``
    gives one outside the main thread), and the results are the serial ones, bit for
    bit.  Two small networks side by side keep both cores busier than one network
    sharing its time loop between them (about 1.3 to 1.6 times faster, measured on the
    half-hourly series).  Serial on the GPU, inside a worker thread (a Dask worker is
    already one per core) or when ``NUMBARNN_THREADS`` fixes the kernels' threads.
    """
    from ..kernels._parts import usable_cores

    workers = min(2, usable_cores(), len(items))
    if (device != "cpu" or os.environ.get("NUMBARNN_THREADS")
            or threading.current_thread() is not threading.main_thread()):
        workers = 1
    if workers == 1:
        return [function(k, item, progress) for k, item in enumerate(items)]
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    shared = _Guarded(progress)
    pool = ThreadPoolExecutor(workers)
    try:
        futures = [pool.submit(function, k, item, shared) for k, item in enumerate(items)]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception() is not None]
        if failed:
            raise failed[0].exception()
        return [f.result() for f in futures]
    except BaseException:  # Ctrl-C, or an error in one thread: stop the others too
        shared.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
