"""A real browser opens the share page: Debian's Chromium, driven by Playwright with
``executable_path``, against both functions served locally (supabase/functions/_local).

Every section is found, no script runs (hostile text placed in the report stays text, and
the page's Content-Security-Policy allows no script at all), the print stylesheet applies,
and the page fits a phone. Set ``PROXIMA_WRITE_DOCS=1`` to refresh docs/share-page.png and
docs/share-page-phone.png from this run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from share_support import add_note, add_person, add_story, add_week_analysis, create_share, monday_of

from worker.demo.functions import PROJECT, FunctionsServer, deno_available

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECTIONS = (
    "#person",
    "#notice",
    "#stories",
    "#insights",
    "#outlook",
    "#shadow-patterns",
    "#moves",
    "#expiry",
)
HOSTILE = '<script>window.__pwned = 1</script> "onmouseover=window.__pwned=2 x=" </style><script>window.__pwned=3</script>'


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test opens its own pages."""
    _require(
        CHROMIUM.exists(),
        "Chromium is not installed: apt-get install chromium (scripts/setup.sh does as root)",
    )
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _require(False, "the playwright package is not installed: run scripts/setup.sh")
        raise
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def links(conn: psycopg.Connection[Any], db_url: str) -> Iterator[tuple[str, str]]:
    """(a link to a plain report, a link to one full of hostile text), both served locally."""
    _require(deno_available(), "Deno is not installed in .tools/deno: run scripts/setup.sh")
    with FunctionsServer(db_url) as server:
        conn.execute(
            "update proxima_private.settings set value = %s where name = 'share_base_url'",
            (server.share_base_url,),
        )
        shared = []
        for extra in ("", " " + HOSTILE):
            maya = add_person(conn, name="Maya Lind", timezone="Europe/Berlin")
            written = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
            story = add_story(
                conn,
                maya,
                title="A quieter week for the knee",
                text="Evening walks most days; the knee ached twice after stairs.\n\n"
                "Sleep was short on Thursday and Friday." + extra,
                generated=written,
            )
            add_note(conn, maya, story, "Ask whether the stairs matter." + extra)
            add_week_analysis(conn, maya, story, monday_of(written), "on knee pain after stairs" + extra)
            shared.append(create_share(conn, maya, [story], expires_in_days=14)["share_link"])
        yield shared[0], shared[1]


def test_chromium_finds_every_section_and_runs_no_script(
    browser: Any, links: tuple[str, str], tmp_path: Path
) -> None:
    plain, hostile = links
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    response = page.goto(hostile)
    assert response is not None and response.status == 200
    assert "default-src 'none'" in (response.headers.get("content-security-policy") or "")

    for selector in SECTIONS:
        assert page.locator(selector).is_visible(), selector
    assert page.title() == "Health report: Maya Lind"
    assert page.locator("#stories article h3").first.inner_text() == "A quieter week for the knee"
    assert "window.__pwned = 1" in page.locator("#stories").inner_text()  # shown as text

    page.locator("#insights li.card").first.hover()
    page.locator("#stories article").first.hover()
    assert page.evaluate("() => document.scripts.length") == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert (
        page.evaluate("() => [...document.querySelectorAll('*')].some(e => e.hasAttribute('onmouseover'))")
        is False
    )

    page.goto(plain)
    for selector in SECTIONS:
        assert page.locator(selector).is_visible(), selector
    shot = tmp_path / "share-page.png"
    page.screenshot(path=str(shot), full_page=True)
    page.emulate_media(media="print")
    assert page.evaluate("() => getComputedStyle(document.querySelector('main')).maxWidth") == "none"

    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone.goto(plain)
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    phone_shot = tmp_path / "share-page-phone.png"
    phone.screenshot(path=str(phone_shot))

    if os.environ.get("PROXIMA_WRITE_DOCS"):
        shutil.copyfile(shot, PROJECT / "docs" / "share-page.png")
        shutil.copyfile(phone_shot, PROJECT / "docs" / "share-page-phone.png")


def test_chromium_sees_the_404_and_410_pages(
    browser: Any, links: tuple[str, str], conn: psycopg.Connection[Any]
) -> None:
    link = links[0]
    page = browser.new_page()
    unknown = page.goto(link[: link.rindex("/") + 1] + "x" * 43)
    assert unknown is not None and unknown.status == 404
    assert page.locator("h1").inner_text() == "Share link not found"
    conn.execute("update public.export_history set revoked_at = now()")
    gone = page.goto(link)
    assert gone is not None and gone.status == 410
    assert page.locator("h1").inner_text() == "Share link has expired"
