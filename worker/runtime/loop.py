"""The event loop the worker runs on: uvloop by default, asyncio's own on request.

uvloop (libuv under asyncio's interface) schedules callbacks, timers and socket reads in C.
A worker draining short jobs spends much of its CPU in the loop itself (a task step per
job, a timer per job's timeout, a socket read and write per statement): side by side with
asyncio's loop, a statement's round trip took 53-59 µs of the worker's CPU against 69-76,
a claim of 16 jobs 136-151 against 158-161 (``PROXIMA_EVENT_LOOP=asyncio|uvloop
bench/worker_overhead.py --rounds 5 --jobs 20000``, two interleaved rounds,
bench/results/queue.md). ``PROXIMA_EVENT_LOOP=asyncio`` runs on the standard loop instead
(a platform without uvloop, or to compare).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from worker.errors import ConfigError

T = TypeVar("T")

EVENT_LOOPS = ("uvloop", "asyncio")
DEFAULT_EVENT_LOOP = "uvloop"


def event_loop_from_env(env: Mapping[str, str] | None = None) -> str:
    """``PROXIMA_EVENT_LOOP``, checked: ``uvloop`` (the default) or ``asyncio``."""
    env = os.environ if env is None else env
    return _checked((env.get("PROXIMA_EVENT_LOOP") or "").strip().lower() or DEFAULT_EVENT_LOOP)


def _checked(name: str) -> str:
    if name not in EVENT_LOOPS:
        raise ConfigError(f"PROXIMA_EVENT_LOOP must be uvloop or asyncio, not {name[:40]!r}")
    return name


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new event loop of ``name`` (one of :data:`EVENT_LOOPS`)."""
    if _checked(name) == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop  # noqa: PLC0415 - absent on platforms it does not support
    except ImportError:
        raise ConfigError(
            "PROXIMA_EVENT_LOOP is uvloop but uvloop is not installed (pip install uvloop),"
            " or set PROXIMA_EVENT_LOOP=asyncio"
        ) from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """``asyncio.run(main)`` on the loop ``loop`` names (``PROXIMA_EVENT_LOOP`` when None)."""
    name = event_loop_from_env() if loop is None else loop
    try:
        factory = loop_factory(name)
    except ConfigError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``uvloop`` or ``asyncio``: which loop runs (the running one when not given)."""
    loop = asyncio.get_running_loop() if loop is None else loop
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
