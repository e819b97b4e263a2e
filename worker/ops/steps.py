"""Progress of the long one-shot commands (``enqueue-weekly``, ``retry-failed``, ``export``).

Each command is a few steps that each wait on the database or a job. On a terminal a step
shows a live elapsed-time line (``tqdm``) that ends as ``done in N s``; piped, it prints
one line when it starts and one when it ends. Progress goes to standard error, so the
command's result on standard output stays clean for scripts.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm


@contextmanager
def step(label: str, *, out: TextIO | None = None, terminal: bool | None = None) -> Iterator[None]:
    stream = out if out is not None else sys.stderr
    live = stream.isatty() if terminal is None else terminal
    started = time.monotonic()
    if not live:
        print(f"{label} ...", file=stream, flush=True)
        try:
            yield
        except BaseException:
            print(f"{label}: stopped after {time.monotonic() - started:.1f} s", file=stream, flush=True)
            raise
        print(f"{label}: done in {time.monotonic() - started:.1f} s", file=stream, flush=True)
        return
    bar = tqdm(total=None, desc=label, file=stream, bar_format="{desc}: {elapsed}", leave=False)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.2):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    outcome = "stopped after"
    try:
        yield
        outcome = "done in"
    finally:
        stop.set()
        ticker.join()
        bar.close()
        print(f"{label}: {outcome} {time.monotonic() - started:.1f} s", file=stream, flush=True)
