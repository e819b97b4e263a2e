"""The worker's event loop (``worker.runtime.loop``): which one runs, and how a wrong
``PROXIMA_EVENT_LOOP`` is refused before anything starts."""

from __future__ import annotations

import asyncio
import sys
import warnings
from types import CoroutineType
from typing import Any, cast

import pytest

from worker.errors import ConfigError
from worker.runtime.loop import event_loop_from_env, loop_factory, loop_name, run


async def _which() -> str:
    await asyncio.sleep(0)
    return loop_name()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "uvloop"),
        ("", "uvloop"),
        ("uvloop", "uvloop"),
        (" AsyncIO ", "asyncio"),
        ("asyncio", "asyncio"),
    ],
)
def test_the_setting_defaults_to_uvloop(value: str | None, expected: str) -> None:
    env = {} if value is None else {"PROXIMA_EVENT_LOOP": value}
    assert event_loop_from_env(env) == expected


@pytest.mark.parametrize("value", ["trio", "uv loop", "asyncio;uvloop", "x" * 200])
def test_an_unknown_loop_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^PROXIMA_EVENT_LOOP must be uvloop or asyncio, not '") as caught:
        event_loop_from_env({"PROXIMA_EVENT_LOOP": value})
    assert len(str(caught.value)) < 120  # a pasted essay is cut, not echoed


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_run_runs_on_the_loop_it_names(name: str) -> None:
    assert run(_which(), loop=name) == name


def test_run_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXIMA_EVENT_LOOP", "asyncio")
    assert run(_which()) == "asyncio"
    monkeypatch.delenv("PROXIMA_EVENT_LOOP")
    assert run(_which()) == "uvloop"


def test_a_refused_loop_closes_the_coroutine_unrun() -> None:
    coroutine = cast("CoroutineType[Any, Any, str]", _which())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be an error here
        with pytest.raises(ConfigError):
            run(coroutine, loop="trio")
    assert coroutine.cr_frame is None  # closed


def test_uvloop_missing_is_said_with_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    with pytest.raises(ConfigError, match=r"uvloop is not installed.*PROXIMA_EVENT_LOOP=asyncio"):
        loop_factory("uvloop")
    assert loop_factory("asyncio") is asyncio.new_event_loop
