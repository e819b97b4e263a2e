"""The benches' options: the command BENCHMARKS.md records for bench/enqueue_scale.py parses as
written, its ``--extra-zones`` adds what it says, and a bad value stops a bench before it starts
anything.

Its ``--shared-buffers`` once had an empty string default that failed the option's own check
(argparse runs an option's type on a string default), so the recorded command could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from worker.queue import manager

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench_module(name: str) -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def enqueue_scale() -> Iterator[ModuleType]:
    yield from _bench_module("enqueue_scale")


def test_the_enqueue_bench_runs_with_the_harness_buffers_by_default(enqueue_scale: ModuleType) -> None:
    args = enqueue_scale.build_parser().parse_args(["--markdown", "--repeat", "5", "--no-baseline"])
    assert args.shared_buffers is None
    assert args.history == [1, 10]
    assert args.fresh_session is False
    assert enqueue_scale.build_parser().parse_args(["--shared-buffers", "1GB"]).shared_buffers == "1GB"
    assert enqueue_scale.build_parser().parse_args(["--fresh-session"]).fresh_session is True


@pytest.mark.parametrize("bad", ["", "1 GB", "0MB", "lots"])
def test_the_enqueue_bench_refuses_a_bad_buffer_size(enqueue_scale: ModuleType, bad: str) -> None:
    with pytest.raises(SystemExit) as caught:
        enqueue_scale.build_parser().parse_args(["--shared-buffers", bad])
    assert caught.value.code == 2


def test_the_enqueue_bench_takes_extra_zones_and_refuses_a_negative_count(enqueue_scale: ModuleType) -> None:
    assert enqueue_scale.build_parser().parse_args([]).extra_zones == 0
    assert enqueue_scale.build_parser().parse_args(["--extra-zones", "393"]).extra_zones == 393
    with pytest.raises(SystemExit) as caught:
        enqueue_scale.build_parser().parse_args(["--extra-zones", "-1"])
    assert caught.value.code == 2


def test_the_extra_zones_are_new_canonical_zones_of_one_idle_person_each(
    enqueue_scale: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    zones = enqueue_scale.add_zones(conn, 393, 1)
    assert len(set(zones)) == 393
    assert not set(zones) & {*enqueue_scale.ZONES, "UTC"}
    rows = conn.execute("select timezone, count(*) from public.profiles group by timezone").fetchall()
    assert sorted(rows) == sorted((zone, 1) for zone in zones)
    assert conn.execute(
        "select public.enqueue_weekly_analysis(null, %s)", (enqueue_scale.FIRST_RUN,)
    ).fetchone() == (0,)
    with pytest.raises(SystemExit, match="only 393 more canonical zones exist, not 394"):
        enqueue_scale.add_zones(conn, 394, 2)


@pytest.fixture
def worker_cpu() -> Iterator[ModuleType]:
    yield from _bench_module("worker_cpu")


def test_the_weekly_benches_answer_with_the_fake_servers_own_sentences_unless_asked(
    worker_cpu: ModuleType,
) -> None:
    weekly_run = sys.modules["weekly_run"]  # imported by worker_cpu
    parser = weekly_run.build_parser()
    assert parser.parse_args([]).answers == "template"
    assert parser.parse_args(["--answers", "offline"]).answers == "offline"
    assert sorted(weekly_run.ANSWERS) == ["offline", "template"]


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("--idle", "-1"),
        ("--idle", "3601"),
        ("--idle", "soon"),
        ("--answers", "short"),
        ("--answers", ""),
        ("--answers", "OFFLINE"),
    ],
)
def test_the_worker_cpu_bench_refuses_a_bad_option_before_starting_anything(
    worker_cpu: ModuleType, option: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        worker_cpu.main([option, bad])
    assert caught.value.code == 2
    assert option in capsys.readouterr().err


@pytest.fixture
def enqueue_ab() -> Iterator[ModuleType]:
    yield from _bench_module("enqueue_ab")


@pytest.mark.parametrize("bad", ["1 GB", "0MB", "lots"])
def test_the_enqueue_side_by_side_bench_refuses_a_bad_buffer_size_before_starting_anything(
    enqueue_ab: ModuleType, bad: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[str] = []
    monkeypatch.setattr(enqueue_ab.LocalCluster, "ephemeral", lambda: started.append("cluster"))
    monkeypatch.setattr(sys, "argv", ["enqueue_ab.py", "--variant", "fresh_session", "--shared-buffers", bad])
    with pytest.raises(SystemExit) as caught:
        enqueue_ab.main()
    assert caught.value.code == 2
    assert "shared_buffers must look like" in capsys.readouterr().err
    assert started == []


def test_the_enqueue_side_by_side_bench_refuses_huge_pages_the_kernel_has_not_reserved(
    enqueue_ab: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[str] = []
    monkeypatch.setattr(enqueue_ab.LocalCluster, "ephemeral", lambda: started.append("cluster"))
    monkeypatch.setattr(enqueue_ab, "reserved_huge_pages", lambda: 0)
    monkeypatch.setattr(sys, "argv", ["enqueue_ab.py", "--variant", "fresh_session", "--huge-pages"])
    with pytest.raises(SystemExit) as caught:
        enqueue_ab.main()
    assert caught.value.code == 2
    assert "vm.nr_hugepages" in capsys.readouterr().err
    assert started == []


@pytest.fixture
def queue_throughput() -> Iterator[ModuleType]:
    yield from _bench_module("queue_throughput")


def test_the_queue_bench_takes_statements(queue_throughput: ModuleType) -> None:
    assert queue_throughput.build_parser().parse_args([]).statements is False
    assert queue_throughput.build_parser().parse_args(["--statements"]).statements is True


def test_the_queue_bench_calls_a_drain_over_only_when_every_job_is_done(
    queue_throughput: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    """The cheap probe (the job enqueued last) gates the full one; neither alone ends a drain
    early: the last job done with others still queued or running is not the end."""
    ours = queue_throughput.OURS

    def probe(query: str) -> bool:
        row = conn.execute(query.encode()).fetchone()  # type: ignore[call-overload]
        assert row is not None
        return bool(row[0])

    conn.execute("insert into public.jobs (kind) select 'noop' from generate_series(1, 3)")
    ids = [int(r[0]) for r in conn.execute("select id from public.jobs order by id").fetchall()]
    assert probe(ours.last_done) is False and probe(ours.pending) is True
    conn.execute("update public.jobs set status = 'succeeded', finished_at = now() where id = %s", (ids[-1],))
    conn.execute(
        "update public.jobs set status = 'running', attempts = 1, lease_owner = 'w', "
        "lease_expires_at = now() + interval '1 minute' where id = %s",
        (ids[0],),
    )
    assert probe(ours.last_done) is True and probe(ours.pending) is True
    conn.execute(
        "update public.jobs set status = 'succeeded', finished_at = now() where id <> %s", (ids[-1],)
    )
    assert probe(ours.last_done) is True and probe(ours.pending) is False


@pytest.fixture
def http_client() -> Iterator[ModuleType]:
    yield from _bench_module("http_client")


def test_the_http_client_bench_always_runs_its_reference_and_refuses_unknown_clients(
    http_client: ModuleType,
) -> None:
    parser = http_client.build_parser()
    assert parser.parse_args([]).clients == ["http11", "aiohttp"]
    assert parser.parse_args(["--clients", "httpx"]).clients == ["http11", "httpx"]
    assert parser.parse_args(["--clients", "aiohttp,http11,aiohttp"]).clients == ["http11", "aiohttp"]
    for bad in (["--clients", "requests"], ["--clients", ","], ["--requests", "0"], ["--latency", "-1"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(bad)
        assert caught.value.code == 2


def test_the_http_client_bench_runs_against_the_fake_server(
    http_client: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        http_client.main(["--clients", "http11", "--requests", "30", "--concurrency", "5", "--rounds", "2"])
        == 0
    )
    table = capsys.readouterr().out
    assert "30 POSTs" in table
    row = next(line for line in table.splitlines() if line.startswith("http11 "))
    assert "1.00x" in row


# A worker process of two slots that runs only no-op jobs (the queue bench's worker, small).
_NOOP_WORKER = ["-m", "worker", "run", "--concurrency", "2", "--kinds", "noop", "--no-schedule"]
_NOOP_WORKER += ["--poll", "0.1", "--log-level", "WARNING"]


def test_the_queue_bench_starts_worker_processes_together(
    queue_throughput: ModuleType, db_url: str, tmp_path: Path
) -> None:
    """Worker processes start behind a lock on the jobs table, lifted only once each waits
    on it. The second process starts two seconds late; still both take part in draining a
    backlog that one process alone clears in well under a second."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into public.jobs (kind) select 'noop' from generate_series(1, 2000)")
    late_second = (
        "import os, sys, time\n"
        "if os.environ['DATABASE_URL'].endswith('-1'): time.sleep(2)\n"
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    argv = [sys.executable, "-c", late_second, *_NOOP_WORKER]
    group = queue_throughput.Subprocesses(
        argv, {**os.environ, "DATABASE_URL": db_url}, 2, tmp_path, url_env="DATABASE_URL", table="jobs"
    )

    async def drain() -> None:
        await group.start()
        try:
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                for _ in range(600):
                    cur = await conn.execute("select count(*) from public.jobs where status <> 'succeeded'")
                    row = await cur.fetchone()
                    if row is not None and row[0] == 0:
                        return
                    group.check_alive()
                    await asyncio.sleep(0.1)
            raise AssertionError("the backlog was not drained within a minute")
        finally:
            await group.stop()

    asyncio.run(drain())
    with psycopg.connect(db_url, autocommit=True) as conn:
        owners = conn.execute(
            "select lease_owner, count(*) from public.jobs group by lease_owner order by lease_owner"
        ).fetchall()
    assert len(owners) == 2, owners
    assert all(count > 0 for _, count in owners)


class _OpensTwoWhileItDrains:
    """A stand-in for the workers: it claims a job, waits until the bench's clock runs (the
    bench probes every 10 ms), opens two more connections, then finishes every job."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.task: asyncio.Task[None] | None = None
        self.extra: list[psycopg.AsyncConnection[Any]] = []

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(
                "update public.jobs set status = 'running', attempts = 1, lease_owner = 'test',"
                " lease_expires_at = now() + interval '1 minute'"
                " where id = (select min(id) from public.jobs)"
            )
            await asyncio.sleep(1.0)  # a hundred of the bench's probes
            for _ in range(2):
                self.extra.append(await psycopg.AsyncConnection.connect(self.url, autocommit=True))
            await conn.execute(
                "update public.jobs set status = 'succeeded', finished_at = now(), lease_expires_at = null"
            )

    async def stop(self) -> None:
        if self.task is not None:
            await self.task
        for conn in self.extra:
            await conn.close()


def test_the_queue_bench_counts_the_connections_opened_while_its_clock_runs(
    queue_throughput: ModuleType, db_url: str
) -> None:
    """Those opened before the clock (the first claim's, the bench's own probe) are not counted;
    the two opened during the drain are."""
    group = _OpensTwoWhileItDrains(db_url)
    drain = asyncio.run(
        queue_throughput.measure(
            db_url,
            group,
            lambda count: queue_throughput.enqueue_ours(db_url, count, 100),
            queue_throughput.OURS,
            jobs=20,
            timeout=60,
        )
    )
    assert drain.opened == 2
    assert drain.jobs == 20 and drain.drain_s > 0.5


def test_the_queue_bench_reads_claims_far_from_32_against_the_ceiling_at_32_too(
    queue_throughput: ModuleType,
) -> None:
    """Claims of 127 made pgbench's batched ceiling slower at four clients than claims of 32:
    a worker whose claims moved far from 32 is also read against the ceiling at 32."""
    reference = queue_throughput.reference_batch
    assert queue_throughput.REFERENCE_BATCH == 32
    # Claims as the worker made them before 4 December (32 ahead, plus up to a claim's idle
    # slots) are read against their own N alone.
    assert [reference(n, 4, False) for n in (28, 32, 33, 36)] == [None] * 4
    assert [reference(n, 4, False) for n in (16, 27, 37, 64, 127)] == [32] * 5
    assert reference(40, 8, False) is None  # two processes of four: eight slots
    assert reference(127, 4, True) is None  # --ceiling-batch fixes N


def test_the_queue_bench_timeline_accounts_for_every_job_of_a_drain(
    queue_throughput: ModuleType, db_url: str
) -> None:
    """``--timeline``: every job claimed and completed once is recorded, the tenths of the clock
    hold what was claimed within it, the clock starts after the first claim was sent (it starts
    once a claim is seen), and the queue's functions are put back afterwards."""
    jobs = 3000
    group = queue_throughput.OurWorkerInProcess(db_url, 4, settle_heap=False)
    timeline = queue_throughput.Timeline(group.worker)
    claim, finish = manager.claim_jobs, manager.finish_jobs
    drain = asyncio.run(
        queue_throughput.measure(
            db_url,
            group,
            lambda count: queue_throughput.enqueue_ours(db_url, count, 500),
            queue_throughput.OURS,
            jobs=jobs,
            timeout=60,
            timeline=timeline,
        )
    )
    assert (manager.claim_jobs, manager.finish_jobs) == (claim, finish)
    assert timeline.clock == drain.clock and drain.clock is not None
    assert sum(c[2] for c in timeline.claims) == jobs
    assert sum(n for _, n in timeline.completions) == jobs
    t0, t1 = drain.clock
    claimed = timeline.per_tenth([(c[1], c[2]) for c in timeline.claims])
    assert len(claimed) == 10 and sum(claimed) == sum(c[2] for c in timeline.claims if t0 <= c[1] < t1)
    assert min(c[0] for c in timeline.claims) < t0
    assert all(0 <= n < len(timeline.claims) for n in timeline.under_way())
    lines = timeline.lines()
    assert lines[0].startswith("timeline: clock ") and "the first claim was sent -" in lines[0]
    assert len(lines) == 5, lines
    assert "ms after the last claim that brought jobs, with " in lines[3]


def test_the_queue_bench_timeline_counts_the_claims_under_way_when_each_was_sent(
    queue_throughput: ModuleType,
) -> None:
    timeline = queue_throughput.Timeline(worker=None)
    # (sent, returned, jobs, buffered, running): the second and third are sent while the first
    # is under way, the third also beside the second; the fourth after all of them returned.
    timeline.claims = [(0.0, 1.0, 32, 0, 0), (0.5, 1.5, 32, 0, 0), (0.7, 0.9, 32, 0, 0), (2.0, 3.0, 32, 0, 0)]
    assert timeline.under_way() == [0, 1, 2, 0]
    timeline.clock = (0.0, 4.0)
    tenths = timeline.per_tenth([(0.1, 1), (0.39, 2), (0.4, 4), (3.99, 8), (4.0, 16)])
    assert tenths == [3, 4] + [0] * 7 + [8]  # the clock's end is not in it


def test_the_queue_bench_warm_up_takes_a_bounded_count(queue_throughput: ModuleType) -> None:
    parser = queue_throughput.build_parser()
    assert parser.parse_args([]).warm_up_jobs == 0  # cold, as every recorded suite ran
    assert parser.parse_args(["--warm-up-jobs", "5000"]).warm_up_jobs == 5000
    for bad in ("-1", "1000001", "many"):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(["--warm-up-jobs", bad])
        assert caught.value.code == 2


def _noop_workers(queue_throughput: ModuleType, db_url: str, tmp_path: Path) -> Any:
    return queue_throughput.Subprocesses(
        [sys.executable, *_NOOP_WORKER],
        {**os.environ, "DATABASE_URL": db_url},
        2,
        tmp_path,
        url_env="DATABASE_URL",
        table="jobs",
    )


async def _insert_noops(db_url: str, count: int) -> float:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            "insert into public.jobs (kind) select 'noop' from generate_series(1, %s)", (count,)
        )
    return 0.0


async def _count(db_url: str, where: str) -> int:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        cur = await conn.execute(f"select count(*) from public.jobs where {where}".encode())
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def test_the_queue_bench_warms_worker_processes_up_and_holds_them_until_the_start(
    queue_throughput: ModuleType, db_url: str, tmp_path: Path
) -> None:
    """``--warm-up-jobs``: the processes drain the warm-up jobs together (each one's pool grows
    to what a drain needs), stay paused while the measured jobs are enqueued (none of them is
    claimed), and run them all once started."""
    group = _noop_workers(queue_throughput, db_url, tmp_path)

    async def scenario() -> None:
        await group.warm_up(lambda: _insert_noops(db_url, 1000), queue_throughput.OURS, 60)
        try:
            assert group.paused
            assert await _count(db_url, "status = 'succeeded'") == 1000
            await _insert_noops(db_url, 500)
            await asyncio.sleep(1.0)  # ten of their polls, were they running
            assert await _count(db_url, "status = 'queued'") == 500
            await group.start()
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                await queue_throughput.wait_drained(conn, queue_throughput.OURS, 60, group)
        finally:
            await group.stop()

    asyncio.run(scenario())
    assert all(p.returncode is not None for p in group.processes)
    with psycopg.connect(db_url, autocommit=True) as conn:
        owners = conn.execute(
            "select count(distinct lease_owner) from public.jobs where id <= (select min(id) + 999 from public.jobs)"
        ).fetchone()
        assert conn.execute("select count(*) from public.jobs where status = 'succeeded'").fetchone() == (
            1500,
        )
    assert owners == (2,)  # both processes ran warm-up jobs


def test_a_paused_group_of_worker_processes_still_stops(
    queue_throughput: ModuleType, db_url: str, tmp_path: Path
) -> None:
    """A stopped process acts on SIGTERM only once it runs again: stopping a paused group
    resumes it first, so no process is left behind (a bench that fails after the warm-up)."""
    group = _noop_workers(queue_throughput, db_url, tmp_path)

    async def scenario() -> None:
        await group.warm_up(lambda: _insert_noops(db_url, 200), queue_throughput.OURS, 60)
        assert group.paused
        await group.stop()

    asyncio.run(scenario())
    assert not group.paused
    assert [p.returncode for p in group.processes] == [0, 0]


def test_the_queue_bench_pairs_each_drain_with_its_own_attempts_ceiling(queue_throughput: ModuleType) -> None:
    """Attempt by attempt: our drain over the same attempt's best ceiling, so a slow minute
    of the machine weighs on both sides of one ratio."""
    split = queue_throughput.CpuSplit.__new__(queue_throughput.CpuSplit)
    ours = [
        queue_throughput.Drain(jobs=1000, enqueue_s=1.0, drain_s=seconds, cpu=split)
        for seconds in (0.1, 0.05)
    ]  # 10,000 then 20,000 jobs/s
    assert queue_throughput.paired_ratios(ours, [12_500.0, 30_000.0]) == pytest.approx((0.8, 2 / 3))
    with pytest.raises(ValueError, match="one ceiling per attempt"):
        queue_throughput.paired_ratios(ours, [12_500.0])


def test_the_median_s_interval_comes_from_order_statistics_and_needs_six_attempts(
    queue_throughput: ModuleType,
) -> None:
    """A distribution-free 95% interval: x(1)..x(6) of six values (1 - 2/64 covered), x(3)..x(10)
    of twelve (1 - 2 * 79/4096), none of five (2/32 outside already)."""
    interval = queue_throughput.median_interval
    assert interval([0.9, 0.7, 1.1, 0.8, 1.0]) is None
    assert interval([0.9, 0.7, 1.1, 0.8, 1.0, 0.6]) == (0.6, 1.1)
    twelve = [0.01 * v for v in (95, 60, 88, 72, 101, 84, 79, 90, 66, 83, 120, 86)]
    assert interval(twelve) == pytest.approx((0.72, 0.95))
    assert interval(twelve, confidence=0.5) == pytest.approx((0.83, 0.88))  # x(5)..x(8)
    with pytest.raises(ValueError, match="between 0 and 1"):
        interval(twelve, confidence=1.0)


@pytest.mark.parametrize(
    ("paired", "verdict"),
    [
        ((0.81, 0.85, 0.9, 0.95, 0.83, 0.88), "met"),  # the lowest attempt is at or above 80%
        ((0.79, 0.85, 0.9, 0.95, 0.83, 0.88), "undecided"),  # one below: the interval straddles
        ((0.5, 0.6, 0.7, 0.75, 0.65, 0.79), "MISSED"),
        ((0.9, 0.95, 0.99), "needs 6 attempts"),
    ],
)
def test_target_3_by_the_median_is_met_missed_or_undecided(
    queue_throughput: ModuleType, paired: tuple[float, ...], verdict: str
) -> None:
    assert verdict in queue_throughput.median_verdict(paired)


def test_the_ceiling_against_itself_is_each_attempt_over_the_one_before(queue_throughput: ModuleType) -> None:
    assert queue_throughput.ceiling_drift([20_000.0, 30_000.0, 24_000.0]) == pytest.approx((1.5, 0.8))
    assert queue_throughput.ceiling_drift([20_000.0]) == ()


@pytest.fixture
def arguments() -> Iterator[ModuleType]:
    yield from _bench_module("arguments")


@pytest.mark.parametrize(
    ("text", "message"), [("0", "between 1 and 9, not 0"), ("10", "not 10"), ("x", "whole")]
)
def test_bench_counts_refuse_what_is_out_of_bounds(arguments: ModuleType, text: str, message: str) -> None:
    check = arguments.count_between(1, 9)
    assert check("1") == 1 and check(" 9") == 9
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        check(text)


@pytest.fixture
def housekeeping_scale() -> Iterator[ModuleType]:
    yield from _bench_module("housekeeping_scale")


def test_the_housekeeping_bench_purges_exactly_the_orphans(
    housekeeping_scale: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small queue: the bench checks the answer itself (it raises on any other count) and
    prints the purge's plan."""
    assert (
        housekeeping_scale.main(["--jobs", "3000", "--people", "300", "--orphans", "9", "--reps", "2"]) == 0
    )
    out = capsys.readouterr().out
    assert '"orphaned_jobs_deleted": 9' in out
    assert "Delete on jobs" in out
    with pytest.raises(SystemExit):
        housekeeping_scale.build_parser().parse_args(["--jobs", "0"])


def test_the_queue_bench_counts_each_sides_wait_for_a_core(queue_throughput: ModuleType) -> None:
    """The run-queue wait of the bench's own processes and of its cluster's, apart; a process
    born in between counts from nothing; other people's processes count for neither; a run
    whose processes ended in between (pgbench) has none to show."""
    me, backend, reborn, stranger = os.getpid(), 10_001, 10_002, 10_003
    snapshot = queue_throughput.CpuSnapshot
    before = snapshot(
        (0, 0),
        0.0,
        {
            me: (1, "python", 5, 1.0),
            backend: (me, "postgres", 6, 1.0),
            reborn: (me, "postgres", 7, 1.0),
            stranger: (1, "postgres", 8, 1.0),
        },
        {me: 1.0, backend: 2.0, reborn: 9.0, stranger: 0.0},
    )
    after = snapshot(
        (100, 200),
        2.0,
        {
            me: (1, "python", 5, 2.0),
            backend: (me, "postgres", 6, 1.5),
            reborn: (me, "postgres", 70, 0.2),  # a new process behind a reused pid
            stranger: (1, "postgres", 8, 3.0),
        },
        {me: 1.6, backend: 3.0, reborn: 0.5, stranger: 5.0},
    )
    split = queue_throughput.CpuSplit.between(before, after)
    assert split.bench_wait_s == pytest.approx(0.6)
    assert split.postgres_wait_s == pytest.approx(1.0 + 0.5)
    assert split.waiting() == "0.30, 0.75"
    assert queue_throughput.CpuSplit.between(before, after, extra_bench_s=0.5).waiting() == "n/a"


@pytest.fixture
def weekly_ab() -> Iterator[ModuleType]:
    yield from _bench_module("weekly_ab")


def test_the_weekly_side_by_side_runs_a_variant_on_the_interpreter_it_names(weekly_ab: ModuleType) -> None:
    root = BENCH.parent
    plain = weekly_ab._variant(f"head={root}")
    assert (plain.name, plain.tree, plain.python, plain.options) == ("head", root, Path(sys.executable), [])
    other = weekly_ab._variant(f"old={root} --python {sys.executable} --job-concurrency 240")
    assert other.python == Path(sys.executable)
    assert other.options == ["--job-concurrency", "240"], "--python is this bench's, not weekly_run's"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("head", "expected NAME=TREE"),
        ("head=/nonexistent-tree", "expected NAME=TREE"),
        (f"head={BENCH.parent} --python", "needs the interpreter's path"),
        (f"head={BENCH.parent} --python /nonexistent/python", "is not an executable file"),
        (f"head={BENCH.parent} --python {BENCH}", "is not an executable file"),
    ],
)
def test_the_weekly_side_by_side_refuses_a_bad_variant(
    weekly_ab: ModuleType, text: str, message: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        weekly_ab._variant(text)


def test_the_weekly_side_by_side_refuses_two_variants_of_one_name(
    weekly_ab: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        weekly_ab.main(
            ["--variant", f"a={BENCH.parent}", "--variant", f"a={BENCH.parent} --python {sys.executable}"]
        )
    assert caught.value.code == 2
    assert "a name of its own" in capsys.readouterr().err


@pytest.fixture
def worker_overhead() -> Iterator[ModuleType]:
    yield from _bench_module("worker_overhead")


def test_the_overhead_bench_prices_a_new_connection_on_both_sides(
    worker_overhead: ModuleType, db_url: str
) -> None:
    """Opening a connection costs the client (libpq's SCRAM exchange) and the server (a forked
    backend): the whole machine spends more than the client alone."""
    own, machine = asyncio.run(worker_overhead.new_connections(db_url, 20))
    assert own > 0
    assert machine > own


@pytest.fixture
def pool_attempts() -> Iterator[ModuleType]:
    yield from _bench_module("pool_attempts")


_SAVED_RUNS = """\
## Something else
### a, from 00:00:00
    in-process (concurrency 4 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 10% / 10% (median 10%)
## The side by side, six attempts a run
### as it is, from 01:00:00
    in-process (concurrency 4 x 1 process(es)): connections our workers opened while the clock ran, each attempt: 2 / 3 / 4 (pgbench opens its own before its clock)
    in-process (concurrency 4 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 90% / 85% / 95% (median 90%)
    in-process (concurrency 16 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 100% / 101% / 102% (median 101%)
    2 processes (concurrency 4 x 2 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 93% / 94% / 96% (median 94%)
### changed, from 01:02:00
    in-process (concurrency 4 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 70% / 75% / 78% (median 75%)
### as it is, from 01:04:00
    in-process (concurrency 4 x 1 process(es)): connections our workers opened while the clock ran, each attempt: 1 / 2 / 3 (pgbench opens its own before its clock)
    in-process (concurrency 4 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 88% / 92% / 86% (median 88%)
### changed, from 01:06:00
    in-process (concurrency 4 x 1 process(es)): attempt by attempt, each drain over its own attempt's ceiling: 72% / 79% / 74% (median 74%)
## Nothing measured here
### as it is, from 02:00:00
    in-process (concurrency 4 x 1 process(es)): 85% of the pgbench ceiling (batched, N=32) (target >= 80%: met)
"""


def test_the_pooling_bench_reads_each_tree_s_attempts_of_one_side_by_side(pool_attempts: ModuleType) -> None:
    found = pool_attempts.pool(_SAVED_RUNS.splitlines(), "The side by side")
    ours = found[("as it is", "in-process at 4")]
    assert sorted(ours.ratios) == [0.85, 0.86, 0.88, 0.9, 0.92, 0.95]  # not the other section's 10%
    assert ours.opened == [2, 3, 4, 1, 2, 3]
    # A suite's other scenarios pool apart, by their concurrency.
    assert found[("as it is", "in-process at 16")].ratios == [1.0, 1.01, 1.02]
    assert found[("as it is", "2 processes at 4 x 2")].ratios == [0.93, 0.94, 0.96]
    changed = found[("changed", "in-process at 4")]
    assert len(changed.ratios) == 6 and changed.opened == []
    assert pool_attempts.verdict(ours.ratios).endswith(": met")
    assert pool_attempts.verdict(changed.ratios).endswith(": MISSED")
    assert pool_attempts.verdict([0.8, 0.81, 0.9, 0.9, 0.95, 0.99]).endswith(": at the line")
    assert "too few" in pool_attempts.verdict([0.9] * 5)


def test_the_pooling_bench_refuses_a_section_it_cannot_find(
    pool_attempts: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "runs.md"
    saved.write_text(_SAVED_RUNS)
    for section in ("No such", "Nothing measured"):  # absent; present, with no attempt's line
        with pytest.raises(SystemExit) as caught:
            pool_attempts.main([str(saved), "--section", section])
        assert caught.value.code == 2
    assert "no section starts with 'No such'" in capsys.readouterr().err
    assert pool_attempts.main([str(saved), "--section", "The side"]) == 0
    assert "in-process at 4 | as it is | 6 attempts | median 89.0%" in capsys.readouterr().out
