"""``python -m worker``: the command line (worker/cli.py).

SIGTERM is a request to stop, whenever it comes: before the worker's own handlers are in
place (while Python imports, settings are read, the database is reached) it ends the
process at once with exit code 0, as a stop during the run does after handing jobs back.
"""

import contextlib
import os
import signal
import sys


def _stop_now(signum: int, frame: object) -> None:
    # Not SystemExit: raised inside a callback the interpreter runs for itself (a module
    # lock's weakref callback during an import) it is printed as "ignored" and the
    # process carries on. Nothing is claimed yet, so ending at once loses nothing.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


signal.signal(signal.SIGTERM, _stop_now)

from worker.cli import main  # noqa: E402 - after the handler, so a stop during imports is clean

sys.exit(main())
