"""IANA time zones as the worker loads them: exactly the name stored, or an error.

Guarantees:

* :func:`load_zone` returns the zone of exactly the name given: no case folding, no
  trimming, no fallback to UTC. 'Europe/Berlin' loads; 'europe/berlin', ' Europe/Berlin'
  and 'Mars/Base' raise :class:`UnknownTimeZone`, on every filesystem (a case-insensitive
  one would otherwise open 'europe/berlin' happily).
* A name loads when Python's zoneinfo lists it (``zoneinfo.available_timezones()``: the
  host's zone files and the ``tzdata`` package the project depends on, so the IANA data
  is there whatever the host has). 'posix/...' and 'right/...' names are not listed.
* :class:`UnknownTimeZone` is a ``ValueError`` whose message names the zone, cut to 64
  characters; it never carries anything but the name.

The database stores only canonical names (``public.time_zone_names``, migration
20261130090000), and its tests load every one of them here, so a stored zone that fails
to load is a bug to report, not a reason to compute someone's week in UTC.
"""

from __future__ import annotations

import functools
import zoneinfo

__all__ = ["UnknownTimeZone", "load_zone"]

_SHOWN_CHARACTERS = 64


class UnknownTimeZone(ValueError):  # noqa: N818 (reads as the condition: "unknown time zone")
    """A time-zone name that Python's zoneinfo does not know, in exactly that spelling."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown time zone {_shown(name)!r}: expected an IANA name such as 'Europe/Berlin'")


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone named exactly ``name``; :class:`UnknownTimeZone` if zoneinfo does not know it."""
    if name not in _known_names():
        raise UnknownTimeZone(name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # Listed but unreadable (a zone file removed or damaged since the list was made).
        raise UnknownTimeZone(name) from exc


@functools.cache
def _known_names() -> frozenset[str]:
    # Walking the zone folders takes tens of milliseconds: once per process, on first use.
    return frozenset(zoneinfo.available_timezones())


def _shown(name: str) -> str:
    return name if len(name) <= _SHOWN_CHARACTERS else name[: _SHOWN_CHARACTERS - 1] + "…"
