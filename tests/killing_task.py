"""A panel task that kills its own Dask worker process the first time it trains store_1.

It lives in a module of its own so that worker processes import it by name.  Run as a
script, it is ``numbarnn`` with that task in place of ``train_series_task``.
"""
import os
import signal

from numbarnn.forecast import panel

MARKER_DIR = "NUMBARNN_TEST_KILL_DIR"


def train_or_kill_worker(task):
    marker = os.path.join(os.environ[MARKER_DIR], "killed-" + task["id"])
    if task["id"] == "store_1" and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return panel.train_series_task(task)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for the workers
    from numbarnn_cli.main import main

    import killing_task  # by its module name, which the workers can import

    panel.train_series_task = killing_task.train_or_kill_worker
    main()
