"""The worker loads exactly the time zone stored, or says which name it does not know.

No case folding, no trimming, no fallback to UTC: the database stores canonical names
(tests/db/test_time_zones.py loads every one of them here), so anything else is an error
that names the zone, cut to 64 characters.
"""

from __future__ import annotations

import datetime as dt

import pytest

from worker.timezones import UnknownTimeZone, load_zone


@pytest.mark.parametrize(
    "name",
    [
        "Europe/Berlin",
        "UTC",
        "Pacific/Auckland",
        "America/Argentina/Buenos_Aires",
        "Europe/Oslo",
        "Asia/Kolkata",
    ],
)
def test_a_canonical_name_loads_under_exactly_that_name(name: str) -> None:
    assert load_zone(name).key == name


def test_the_zone_loaded_is_the_iana_zone() -> None:
    summer = dt.datetime(2026, 7, 1, 12, tzinfo=load_zone("Europe/Berlin"))
    assert summer.utcoffset() == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("pacific/auckland", id="lower-case"),
        pytest.param("EUROPE/BERLIN", id="upper-case"),
        pytest.param(" Europe/Berlin", id="leading-space"),
        pytest.param("Europe/Berlin\n", id="trailing-newline"),
        pytest.param("Mars/Base", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param("Europe", id="a-folder"),
        pytest.param("posix/Europe/Berlin", id="posix-tree"),
        pytest.param("right/Europe/Berlin", id="right-tree"),
        pytest.param("/etc/passwd", id="absolute-path"),
        pytest.param("../zoneinfo/UTC", id="relative-path"),
        pytest.param("Europe/Berlin\x00", id="nul"),
        pytest.param("Europe/\x07Berlin", id="control-character"),
        pytest.param("x" * 10_000, id="ten-thousand-characters"),
    ],
)
def test_any_other_name_is_an_unknown_time_zone(name: str) -> None:
    with pytest.raises(UnknownTimeZone) as raised:
        load_zone(name)
    assert raised.value.name == name


def test_an_unknown_time_zone_is_a_value_error_naming_the_zone() -> None:
    with pytest.raises(ValueError, match=r"unknown time zone 'Mars/Base'"):
        load_zone("Mars/Base")


def test_the_error_shows_at_most_64_characters_of_the_name() -> None:
    with pytest.raises(UnknownTimeZone) as raised:
        load_zone("x" * 10_000)
    assert f"'{'x' * 63}…'" in str(raised.value)
    assert "x" * 64 not in str(raised.value)
