"""Map a plain-data task over many inputs: serially in-process, or on Dask.

``map_tasks`` runs ``function(task)`` for every task and hands each result to a
callback as it arrives, so that the caller can write it at once.  Tasks and
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
import importlib.util
import logging
import os
import time


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
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 0):
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 0")
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


def _map_dask(function, tasks, workers, scheduler, on_result, warm_up):
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        workers = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
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
            results[index] = future.result()
            future.release()
            if on_result is not None:
                on_result(index, results[index])
        return results, execution
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
