"""A panel task that kills its own Dask worker process the first time it trains store_1.

It lives in a module of its own so that worker processes import it by name.
"""
import os
import signal

from numbarnn.panel import train_series_task

MARKER_DIR = "NUMBARNN_TEST_KILL_DIR"


def train_or_kill_worker(task):
    marker = os.path.join(os.environ[MARKER_DIR], "killed-" + task["id"])
    if task["id"] == "store_1" and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return train_series_task(task)
