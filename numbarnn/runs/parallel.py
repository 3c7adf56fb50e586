"""Map a plain-data task over many inputs: serially in-process, or on Dask.

``map_tasks`` runs ``function(task)`` for every task and hands each result to a
callback as it arrives, so that the caller can write it at once.  ``run_tasks``
adds a ``ResultStore``: every finished result goes to disk at once, Ctrl-C keeps
what finished, and a resumed run skips the tasks whose results are stored.  Tasks and
results must be plain data (lists, dicts, strings, numbers, bytes) and
``function`` importable by name: on Dask they travel to worker processes, or to
other machines.

Where the work runs:

- ``workers=0``: serially, in this process;
- ``scheduler='tcp://host:8786'``: on that existing ``dask.distributed`` cluster;
- otherwise, with ``distributed`` installed: a ``LocalCluster`` of ``workers``
  single-threaded processes (default: one per core); without it: serially, with a
  note saying so.
"""
import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import signal
import threading
import time

from .._checks import check_int


class WorkerLost(RuntimeError):
    """A task whose workers kept dying: Dask retried it on others and gave up."""


def dask_available():
    """Whether ``dask.distributed`` is installed."""
    return importlib.util.find_spec("distributed") is not None


def map_tasks(function, tasks, workers=None, scheduler=None, on_result=None, warm_up=None):
    """Run ``function`` on every task; results in task order.

    Parameters
    ----------
    function : callable
        A module-level function of one plain-data argument.
    tasks : list
    workers : int, optional
        0: serially in-process; N > 0: a LocalCluster of N processes; None: one per
        core (or serially without dask).  Not with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler.
    on_result : callable, optional
        ``on_result(index, result)``, in this process, as each task finishes.
    warm_up : (callable, argument), optional
        Run once in every worker (or in this process) before the tasks, e.g. to
        compile kernels; its results are reported per worker.

    Returns
    -------
    results : list
    execution : dict
        ``mode`` ('serial', 'local-cluster', 'scheduler'), ``workers``, ``warm_up``
        (worker -> the warm-up's result), ``note`` (why it ran serially, or None).

    Raises
    ------
    ValueError
        For ``workers`` with ``scheduler``, a negative ``workers``, or a
        ``scheduler`` without ``distributed`` installed.
    """
    if workers is not None:
        check_int("workers", workers, 0)
    if scheduler is not None and workers is not None:
        raise ValueError("--workers and --scheduler: choose one (--workers sizes a local "
                         "cluster; the scheduler's cluster has its own workers)")
    if scheduler is not None and not dask_available():
        raise ValueError("--scheduler needs dask.distributed: pip install 'numbarnn[dask]'")
    if workers == 0 or (scheduler is None and not dask_available()):
        note = None if workers == 0 else \
            "note: dask.distributed is not installed, so the series train one after another " \
            "in this process (pip install 'numbarnn[dask]' to use every core)"
        return _map_serial(function, tasks, on_result, warm_up, note)
    return _map_dask(function, tasks, workers, scheduler, on_result, warm_up)


def _map_serial(function, tasks, on_result, warm_up, note):
    execution = {"mode": "serial", "workers": 1, "warm_up": {}, "note": note}
    if warm_up is not None:
        execution["warm_up"]["in-process"] = warm_up[0](warm_up[1])
    results = []
    for index, task in enumerate(tasks):
        results.append(function(task))
        if on_result is not None:
            on_result(index, results[-1])
    return results, execution


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """Start processes that ignore SIGINT (they inherit it): Ctrl-C in a terminal reaches
    the whole process group, and only this process should act on it, by closing the
    cluster, rather than every worker dying with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore_ctrl_c_plugin():
    """A ``distributed`` worker plugin that makes a worker ignore SIGINT once it has
    joined: for the workers that replace dead ones, which this process starts later,
    with its own SIGINT handler (until the plugin runs, such a worker can still be
    stopped by Ctrl-C)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreCtrlC(WorkerPlugin):  # defined here: distributed is optional
        name = "numbarnn-ignore-ctrl-c"

        def setup(self, worker):
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreCtrlC()


def _map_dask(function, tasks, workers, scheduler, on_result, warm_up):
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        workers = workers or os.cpu_count() or 1
        # the workers' own logs stay quiet: a task's error reaches this process through
        # its future, and a worker busy in a task when the cluster closes (Ctrl-C) may
        # log its failed heartbeat to the closed scheduler, with a traceback, as an ERROR
        with _workers_ignore_ctrl_c():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster)
        client.register_plugin(_ignore_ctrl_c_plugin())
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:  # (ValueError: a malformed address)
            raise ValueError(f"--scheduler {scheduler}: cannot connect ({e})") from None
    try:
        execution = {"mode": "local-cluster" if cluster is not None else "scheduler",
                     "workers": len(client.scheduler_info()["workers"]), "warm_up": {},
                     "note": None}
        if warm_up is not None:
            start = time.perf_counter()
            execution["warm_up"] = client.run(warm_up[0], warm_up[1])
            execution["warm_up_wall"] = time.perf_counter() - start
        futures = client.map(function, tasks, pure=False)
        index_of = {future.key: k for k, future in enumerate(futures)}
        results = [None] * len(tasks)
        for future in as_completed(futures):
            index = index_of[future.key]
            try:
                results[index] = future.result()
            except Exception as e:
                if type(e).__name__ == "KilledWorker":  # its worker died, then the retries'
                    raise WorkerLost(f"task {index + 1} of {len(tasks)} was running on each of "
                                     f"the workers that died under it ({e}); the tasks that "
                                     "finished are kept") from None
                raise
            future.release()
            if on_result is not None:
                on_result(index, results[index])
        return results, execution
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ------------------------------------------------------------------------------ stored results
def task_digest(task):
    """SHA-256 of a plain-data task (JSON with sorted keys): equal digests, equal work."""
    text = json.dumps(task, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultStore:
    """Finished task results in a directory: ``NAME.json`` per task, and
    ``NAME.safetensors`` for a result's ``checkpoint`` bytes (a name may hold ``/``:
    sub-directories).

    The checkpoint is written first and the JSON last, both atomically, so a JSON
    file means a complete result, whatever stopped the run.  Each JSON holds the
    task's digest: a result is reused only for the very same task.
    """

    def __init__(self, directory):
        self.directory = os.fspath(directory)

    def checkpoint_path(self, name):
        return os.path.join(self.directory, name + ".safetensors")

    def _json_path(self, name):
        return os.path.join(self.directory, name + ".json")

    def save(self, name, digest, result):
        """Store ``result``; its ``checkpoint`` bytes (if any) go to their own file."""
        from ..checkpoints import write_atomic, write_json

        os.makedirs(os.path.dirname(self._json_path(name)), exist_ok=True)
        record = {key: value for key, value in result.items() if key != "checkpoint"}
        record["has_checkpoint"] = result.get("checkpoint") is not None
        if os.path.exists(self._json_path(name)):  # an older result must never vouch for
            os.remove(self._json_path(name))       # the new checkpoint
        if record["has_checkpoint"]:
            write_atomic(self.checkpoint_path(name), result["checkpoint"])
        write_json(self._json_path(name), {"digest": digest, "result": record})

    def load(self, name, digest):
        """The stored result of this very task (``checkpoint`` as bytes, or None), or None
        when there is none, it belongs to another task, or its files are unreadable."""
        try:
            with open(self._json_path(name), encoding="utf-8") as f:
                stored = json.load(f)
            if stored["digest"] != digest:
                return None
            result = dict(stored["result"])
            checkpoint = None
            if result.pop("has_checkpoint"):
                with open(self.checkpoint_path(name), "rb") as f:
                    checkpoint = f.read()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        result["checkpoint"] = checkpoint
        return result


def run_tasks(function, tasks, names, store, resume=False, workers=None, scheduler=None,
              on_result=None, warm_up=None):
    """``map_tasks`` with every result stored as it arrives, and Ctrl-C survived.

    Parameters
    ----------
    function, tasks, workers, scheduler, warm_up
        As for ``map_tasks``.
    names : list of str
        A file name per task, for ``store``.
    store : ResultStore
    resume : bool
        Reuse the stored results of identical tasks instead of running them again.
    on_result : callable, optional
        ``on_result(index, result)`` for every task run now (not the reused ones),
        after its result is stored.

    Returns
    -------
    results : list
        In task order; None for the tasks that did not finish.
    execution : dict
        ``map_tasks``'s, plus ``reused`` (tasks skipped on resume), ``status`` and
        ``error``: 'finished'; 'interrupted' after Ctrl-C; 'failed' when a task raised
        or its workers kept dying (``error`` says what).  The cluster is closed and
        every result that arrived before is stored.
    error : Exception or None
        What stopped a 'failed' run, for the caller to raise once it has written what
        finished.
    """
    digests = [task_digest(task) for task in tasks]
    results = [store.load(name, digest) if resume else None
               for name, digest in zip(names, digests)]
    pending = [k for k, result in enumerate(results) if result is None]

    def finished(position, result):
        index = pending[position]
        store.save(names[index], digests[index], result)
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    execution = {"mode": None, "workers": 0, "warm_up": {}, "note": None}
    status, error = "finished", None
    try:
        if pending:
            _, execution = map_tasks(function, [tasks[k] for k in pending], workers=workers,
                                     scheduler=scheduler, on_result=finished, warm_up=warm_up)
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as e:  # handed back, so that the caller records what finished first
        status, error = "failed", e
    execution.update(reused=len(tasks) - len(pending), status=status,
                     error=None if error is None else f"{type(error).__name__}: {error}")
    return results, execution, error
