"""The model requests' HTTP client: this project's own (``worker/ai/http11.py``) beside the
well-kept libraries that could replace it, in CPU of this process a request.

Every client sends the same ~12 KB JSON POSTs (the analysis request of
``tests/support/fake_deepseek.sample_week_facts`` people, built by ``worker.ai.prompts``) with
the provider's headers, ``--concurrency`` at once over kept-alive connections, to the fake
DeepSeek server of ``bench/weekly_run.py`` running in a process of its own on 127.0.0.1 (its
CPU is not counted), and reads every response whole. Rounds alternate between the clients;
the table gives each one's median CPU a request over ``--rounds`` rounds, its ratio to
``http11`` and the wall time. Each response is compared with ``http11``'s for the same body:
a client that reads a different answer (the model's message: the server numbers its responses
and counts cache hits) stops the bench.

``aiohttp`` is measured when installed (``.venv/bin/pip install aiohttp``), ``httpx`` (a
dependency of the worker, for Storage) when asked for with ``--clients``: at 200 requests in
flight its connection pool spends tens of milliseconds of CPU a request looking for a free
connection (httpcore's ``_assign_requests_to_connections`` asks every connection whether it
is idle for every request waiting, each time a request starts or ends), so a round of 4,000
takes minutes. Each is set up as a worker would be: one session for the process, keep-alive,
a connection for each request in flight (aiohttp without a limit, the provider bounds
requests in flight; httpx with ``--concurrency`` connections), no cookie jar or
decompression (aiohttp).

    flock /tmp/proxima-bench.lock .venv/bin/python bench/http_client.py --markdown
    flock /tmp/proxima-bench.lock .venv/bin/python bench/http_client.py --markdown --clients httpx --requests 1000 --rounds 1
    .venv/bin/python bench/http_client.py --requests 400 --rounds 1      # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import orjson
import weekly_run  # the fake server's process and its API key
from arguments import count_between

from tests.support.fake_deepseek import sample_week_facts
from worker.ai import prompts
from worker.ai.http11 import ConnectionPool

CLIENTS = ("http11", "aiohttp", "httpx")
PATH = "/chat/completions"
HEADERS = {
    "Authorization": f"Bearer {weekly_run.BENCH_API_KEY}",
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": "proxima-worker",
}
DISTINCT_BODIES = 50
REQUEST_TIMEOUT = 300.0  # seconds; a request never takes that long here

# One round of a client: (CPU µs a request, wall seconds, the responses' bodies by body index).
Round = tuple[float, float, dict[int, bytes]]
Sender = Callable[[int], Awaitable[bytes]]


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def request_bodies() -> list[bytes]:
    """The analysis requests of ``DISTINCT_BODIES`` people, as the provider writes them."""
    return [
        orjson.dumps(
            {
                "model": "deepseek-chat",
                "messages": prompts.analysis_messages(sample_week_facts(person)),
                "stream": False,
                "max_tokens": 8192,
                "response_format": {"type": "json_object"},
            }
        )
        for person in range(DISTINCT_BODIES)
    ]


async def _drive(send: Sender, requests: int, concurrency: int) -> Round:
    """``requests`` calls of ``send`` with at most ``concurrency`` at once, timed."""
    gate = asyncio.Semaphore(concurrency)
    answers: dict[int, bytes] = {}

    async def one(number: int) -> None:
        async with gate:
            content = await send(number % DISTINCT_BODIES)
        answers.setdefault(number % DISTINCT_BODIES, content)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(requests)))
    return 1e6 * (time.process_time() - cpu) / requests, time.perf_counter() - wall, answers


async def run_http11(url: str, bodies: list[bytes], requests: int, concurrency: int) -> Round:
    pool = ConnectionPool(url, max_idle=concurrency, keepalive_expiry=60.0)
    head = pool.request_head(PATH, HEADERS)

    async def send(index: int) -> bytes:
        response = await pool.post(head, bodies[index])
        if response.status != 200:
            raise RuntimeError(f"http11: the server answered {response.status}")
        return response.content

    try:
        return await _drive(send, requests, concurrency)
    finally:
        await pool.aclose()


async def run_aiohttp(url: str, bodies: list[bytes], requests: int, concurrency: int) -> Round:
    import aiohttp  # noqa: PLC0415 - optional

    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60.0)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        skip_auto_headers=("Accept-Encoding",),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    ) as session:
        target = url.rstrip("/") + PATH

        async def send(index: int) -> bytes:
            async with session.post(target, data=bodies[index], headers=HEADERS) as response:
                content = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"aiohttp: the server answered {response.status}")
                return content

        return await _drive(send, requests, concurrency)


async def run_httpx(url: str, bodies: list[bytes], requests: int, concurrency: int) -> Round:
    import httpx  # noqa: PLC0415 - a dependency, imported here like the optional ones

    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=60.0
    )
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=REQUEST_TIMEOUT, headers=HEADERS
    ) as client:

        async def send(index: int) -> bytes:
            response = await client.post(PATH, content=bodies[index])
            if response.status_code != 200:
                raise RuntimeError(f"httpx: the server answered {response.status_code}")
            return response.content

        return await _drive(send, requests, concurrency)


def messages(answers: dict[int, bytes]) -> dict[int, str]:
    """The model's message of each response, by body index."""
    return {index: orjson.loads(body)["choices"][0]["message"]["content"] for index, body in answers.items()}


RUNNERS = {"http11": run_http11, "aiohttp": run_aiohttp, "httpx": run_httpx}


def available(name: str) -> bool:
    return name == "http11" or importlib.util.find_spec(name) is not None


_COUNT = count_between(1, 1_000_000)


def _clients(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLIENTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"clients are a comma-separated list of {', '.join(CLIENTS)}")
    return list(dict.fromkeys(["http11", *names]))  # http11 always: the others are compared with it


def _latency(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 5:
        raise argparse.ArgumentTypeError("must be between 0 and 5 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=_COUNT, default=4000, help="requests a client makes a round (4000)"
    )
    parser.add_argument("--concurrency", type=_COUNT, default=200, help="requests in flight (200)")
    parser.add_argument("--rounds", type=_COUNT, default=5, help="rounds; medians are reported (5)")
    parser.add_argument("--latency", type=_latency, default=0.001, help="the fake server's latency (0.001 s)")
    parser.add_argument(
        "--clients",
        type=_clients,
        default=["http11", "aiohttp"],
        help="comma-separated, of http11, aiohttp and httpx (http11,aiohttp; http11 is always run)",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="a Markdown table (the default is plain text)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    clients = [name for name in args.clients if available(name)]
    missing = [name for name in args.clients if name not in clients]
    for name in missing:
        note(f"{name} is not installed: left out (.venv/bin/pip install {name})")
    bodies = request_bodies()
    rounds: dict[str, list[Round]] = {name: [] for name in clients}
    with tempfile.TemporaryDirectory(prefix="http-client-") as scratch:
        log = open(Path(scratch) / "fake.log", "wb")  # noqa: SIM115 - closed below
        fake = weekly_run.FakeServerProcess(args.latency, args.concurrency, 100, log)
        try:
            for number in range(1, args.rounds + 1):
                # Each round starts with another client, so none always runs first.
                order = clients[number % len(clients) :] + clients[: number % len(clients)]
                for name in order:
                    note(f"round {number}/{args.rounds}: {name}")
                    rounds[name].append(
                        asyncio.run(RUNNERS[name](fake.url, bodies, args.requests, args.concurrency))
                    )
        finally:
            fake.close()
            log.close()
    reference = messages(rounds["http11"][0][2])
    for name, runs in rounds.items():
        for _, _, answers in runs:
            if messages(answers) != reference:
                raise SystemExit(f"{name} read answers that differ from http11's")
    base = statistics.median(run[0] for run in rounds["http11"])
    print(
        f"HTTP client CPU, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {platform.machine()}, "
        f"Python {platform.python_version()}, {args.requests:,} POSTs of {len(bodies[0]):,}-byte bodies a "
        f"round, {args.concurrency} in flight, server latency {args.latency:g} s, median of {args.rounds} rounds"
    )
    print("command: bench/http_client.py " + " ".join(sys.argv[1:] if argv is None else argv))
    header = ("client", "CPU µs a request (median)", "rounds (µs)", "ratio to http11", "wall s (median)")
    rows = [
        (
            name,
            f"{statistics.median(run[0] for run in runs):.1f}",
            " / ".join(f"{run[0]:.0f}" for run in runs),
            f"{statistics.median(run[0] for run in runs) / base:.2f}x",
            f"{statistics.median(run[1] for run in runs):.2f}",
        )
        for name, runs in rounds.items()
    ]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|---:|---|---:|---:|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in (header, *rows):
            print("  ".join(f"{cell:<26}" for cell in row).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
