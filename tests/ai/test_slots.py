"""Request slots: a bounded number of model requests at once, the highest job priority first."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest
from fake_deepseek import FakeDeepSeek, sample_week_facts

from worker.ai.deepseek import DeepSeekProvider
from worker.ai.http11 import Response
from worker.ai.slots import RequestSlots, request_priority
from worker.config import AISettings

KEY = "sk-test-slots-8c1d"


async def _hold(slots: RequestSlots, name: str, priority: int, order: list[str], hold: asyncio.Event) -> None:
    request_priority.set(priority)
    async with slots:
        order.append(name)
        await hold.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _one_slot_held() -> tuple[RequestSlots, list[str], asyncio.Event, asyncio.Task[None]]:
    """One slot, taken by a task named "holder" that keeps it until the event is set; the
    list records who got a slot, in order."""
    slots = RequestSlots(1)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "holder", 0, order, release))
    await _settle()
    return slots, order, release, holder


def test_a_freed_slot_goes_to_the_highest_priority_then_the_earliest() -> None:
    async def scenario() -> list[str]:
        slots, order, release, holder = await _one_slot_held()
        waiters = [
            asyncio.create_task(_hold(slots, name, priority, order, release))
            for name, priority in [
                ("batch-1", 0),
                ("batch-2", 0),
                ("refresh-1", 10),
                ("low", -5),
                ("refresh-2", 10),
            ]
        ]
        await _settle()
        assert order == ["holder"] and slots.waiting == 5
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, *waiters), 5)
        return order

    assert asyncio.run(scenario()) == ["holder", "refresh-1", "refresh-2", "batch-1", "batch-2", "low"]


def test_never_more_holders_than_slots_and_every_request_gets_one() -> None:
    async def scenario() -> tuple[int, int]:
        slots = RequestSlots(3)
        holding = peak = done = 0

        async def one(priority: int) -> None:
            nonlocal holding, peak, done
            request_priority.set(priority)
            async with slots:
                holding += 1
                peak = max(peak, holding)
                await asyncio.sleep(0.001 * (priority % 3))
                holding -= 1
            done += 1

        await asyncio.wait_for(asyncio.gather(*(one(p % 7 - 3) for p in range(60))), 10)
        return peak, done

    assert asyncio.run(scenario()) == (3, 60)


def test_a_waiter_cancelled_while_waiting_takes_no_slot() -> None:
    async def scenario() -> list[str]:
        slots, order, release, holder = await _one_slot_held()
        gone = asyncio.create_task(_hold(slots, "gone", 10, order, release))
        after = asyncio.create_task(_hold(slots, "after", 0, order, release))
        await _settle()
        gone.cancel()
        await _settle()
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, after), 5)
        assert gone.cancelled()
        # Both slots' worth of work is done and the slot is free again.
        await asyncio.wait_for(slots.__aenter__(), 1)
        order.append("again")
        return order

    assert asyncio.run(scenario()) == ["holder", "after", "again"]


def test_a_waiter_cancelled_as_the_slot_is_handed_to_it_passes_the_slot_on() -> None:
    async def scenario() -> list[str]:
        slots = RequestSlots(1)
        order: list[str] = []
        release = asyncio.Event()
        await slots.__aenter__()  # held here, released below by hand
        first = asyncio.create_task(_hold(slots, "first", 5, order, release))
        second = asyncio.create_task(_hold(slots, "second", 0, order, release))
        await _settle()
        await slots.__aexit__(None, None, None)  # handed to "first"...
        first.cancel()  # ...which is cancelled before it runs
        release.set()
        await asyncio.wait_for(second, 5)  # never runs if the handed slot were lost
        with pytest.raises(asyncio.CancelledError):
            await first
        assert slots.waiting == 0
        await asyncio.wait_for(slots.__aenter__(), 1)  # the one slot is free, not lost
        return order

    assert asyncio.run(scenario()) == ["second"]


def test_slots_need_a_positive_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RequestSlots(0)


def test_a_refresh_s_request_goes_out_before_the_batch_requests_waiting_longer() -> None:
    """Through the DeepSeek provider and a real socket: one request slot, busy; three batch
    requests wait, then a refresh's. The refresh is the next one the server receives."""
    label: ContextVar[str] = ContextVar("label")
    sent: list[str] = []

    async def scenario(fake: FakeDeepSeek) -> None:
        settings = AISettings(
            provider="deepseek",
            api_key=KEY,
            base_url=fake.url,
            model="deepseek-chat",
            timeout_seconds=5.0,
            max_concurrency=1,
        )
        provider = DeepSeekProvider(settings, backoff_base=0.01, backoff_cap=1.0)
        post = provider._pool.post

        async def recorded_post(head: str, body: bytes) -> Response:
            sent.append(label.get())
            return await post(head, body)

        provider._pool.post = recorded_post  # type: ignore[method-assign]

        async def person(name: str, priority: int, number: int) -> None:
            label.set(name)
            request_priority.set(priority)
            await provider.write_analysis(sample_week_facts(number))

        try:
            first = asyncio.create_task(person("batch-0", 0, 0))
            await asyncio.sleep(0.05)  # its request is out and holds the only slot
            rest = [asyncio.create_task(person(f"batch-{n}", 0, n)) for n in (1, 2, 3)]
            await asyncio.sleep(0.02)
            rest.append(asyncio.create_task(person("refresh", 10, 4)))
            await asyncio.gather(first, *rest)
        finally:
            await provider.aclose()

    with FakeDeepSeek(api_key=KEY, latency=0.2) as fake:
        asyncio.run(scenario(fake))
        assert fake.peak_concurrency == 1
    assert sent == ["batch-0", "refresh", "batch-1", "batch-2", "batch-3"]
