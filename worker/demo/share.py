"""The demo's doctor share: a link for one demo person, its e-mail (printed), and the share
page served by the real Edge Functions code on 127.0.0.1 (when Deno is installed).

``python -m worker demo --serve`` keeps the database and the functions running after the
demo until Ctrl-C, so the printed link can be opened in a browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import signal
import socket
import threading
import time
import urllib.request
from typing import Any, TextIO

import psycopg

from worker.config import AISettings, StorageSettings
from worker.db.queries import load_queries
from worker.demo.functions import FunctionsServer, deno_available, free_port
from worker.demo.seed import DemoPerson
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until
from worker.share.mail import MailSettings

DEMO_RECIPIENT = "doctor@demo.proxima.local"  # printed nowhere: the console mailer hides it
PREFERRED_PORT = 54321  # where `supabase start` serves functions


def _query(name: str) -> Any:
    return load_queries("worker.demo", "share.sql")[name]


def _port() -> int:
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", PREFERRED_PORT))
        return PREFERRED_PORT
    except OSError:
        return free_port()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def demo_jwt(person: DemoPerson, secret: str) -> str:
    """An access token for ``person`` as Supabase Auth issues them (HS256, one hour)."""
    now = int(time.time())
    claims = {
        "sub": str(person.id),
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
    }
    unsigned = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{_b64(signature)}"


def _create_share(url: str, person: DemoPerson) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        conn.execute(
            _query("act_as_user"), {"claims": json.dumps({"sub": str(person.id), "role": "authenticated"})}
        )
        row = conn.execute(
            _query("create_share"), {"user_id": person.id, "recipient": DEMO_RECIPIENT}
        ).fetchone()
    assert row is not None
    share: dict[str, Any] = row[0]
    return share


def _send_email_and_make_pdf(url: str, settings: AISettings, storage: StorageSettings) -> None:
    def done() -> bool:
        with psycopg.connect(url) as conn:
            row = conn.execute(_query("share_jobs_done")).fetchone()
        return bool(row and row[0] >= 2)

    registry = default_registry(settings, storage, MailSettings())
    run_until(url, registry, done, kinds=("share_notification", "share_pdf"), timeout=60)


def run_share_demo(
    url: str, person: DemoPerson, settings: AISettings, storage: StorageSettings, out: TextIO, *, serve: bool
) -> None:
    """Share ``person``'s stories with a doctor, e-mail them (printed), and open the page."""
    jwt_secret = secrets.token_urlsafe(32)
    export_dir = storage.local_dir if storage.backend == "local" else None
    server = (
        FunctionsServer(url, port=_port(), jwt_secret=jwt_secret, export_dir=export_dir)
        if deno_available()
        else None
    )
    try:
        if server is not None:
            server.start()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(_query("set_share_base_url"), {"url": server.share_base_url})
        print(f"\nSharing {person.name}'s stories with a doctor for 14 days ...", file=out, flush=True)
        share = _create_share(url, person)
        _send_email_and_make_pdf(url, settings, storage)
        print(
            "  (the e-mail's link carries a token of its own: it and the share link below open the"
            " same share, and both stop working when it is revoked or expires)",
            file=out,
        )
        link = share["share_link"]
        if server is None:
            print(f"  share link: {link}", file=out)
            print("  (Deno is not installed, so nothing serves it: run scripts/setup.sh)", file=out)
            return
        with urllib.request.urlopen(link, timeout=30) as response:  # noqa: S310 - our own loopback server
            size = len(response.read())
            print(f"  the share page answers {response.status} ({size:,} bytes of HTML)", file=out)
        if export_dir is not None:
            with urllib.request.urlopen(f"{link}/pdf", timeout=30) as response:  # noqa: S310 - loopback
                size = len(response.read())
                print(f"  its PDF ({link}/pdf) answers {response.status} ({size:,} bytes)", file=out)
        print(f"  share link: {link}", file=out)
        if not serve:
            print("  (run `python -m worker demo --serve` to keep it open in a browser)", file=out)
            return
        print(f"\nServing the share page and the API at {server.base_url}/{{shared-report,api}}.", file=out)
        print(
            f"  Try the API as {person.name} (this token is valid for one hour, in this demo only):", file=out
        )
        print(
            f"  curl -s {server.base_url}/api/health-analysis/{person.id} "
            f"-H 'Authorization: Bearer {demo_jwt(person, jwt_secret)}'",
            file=out,
        )
        print("Press Ctrl-C to stop.", file=out, flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        if server is not None:
            server.stop()
