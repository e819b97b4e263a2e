#!/usr/bin/env python3
"""Write the migration that teaches the database the canonical IANA time-zone names.

Usage (from the repository root, standard library only)::

    .venv/bin/python scripts/time_zones.py
    .venv/bin/python scripts/time_zones.py --output supabase/migrations/<YYYYMMDDHHMMSS>_refresh_time_zones.sql
    .venv/bin/python scripts/time_zones.py --source /usr/share/zoneinfo

The first form rewrites ``supabase/migrations/20261130090000_canonical_time_zones.sql``;
once that migration has been applied anywhere, take a newer tz release into a *new*
migration (the second form) instead, since an applied migration never runs again. The
generated SQL applies cleanly on top of itself, so a refresh is the same file with newer
rows.

The data comes from the ``tzdata`` package (the same IANA release the worker's zoneinfo
reads) when it is installed, else from the host's ``/usr/share/zoneinfo``; ``--source``
names a folder holding ``tzdata.zi`` and ``zone.tab``.

Which names are stored, and what each maps to:

* Canonical, mapped to themselves: every ``Zone`` of the form Area/Location in one of the
  geographic areas (Europe/Berlin, America/Argentina/Buenos_Aires), every name in
  ``zone.tab`` (the one name per country region: Europe/Oslo, Atlantic/Reykjavik,
  Asia/Kuala_Lumpur), and 'UTC'. ``zone.tab`` matters because since 2022 the main data
  merges zones that agree since 1970 across borders (Europe/Oslo is a link to
  Europe/Berlin, Atlantic/Reykjavik to Africa/Abidjan); normalising a Norwegian's zone to
  Berlin would be correct to the second and still wrong. Distributions that build with
  ``PACKRATLIST=zone.tab`` (Debian) keep those names as zones for the same reason.
* Links of the same Area/Location shape, including the legacy areas (Asia/Calcutta,
  America/Buenos_Aires, Europe/Kiev, US/Eastern, Canada/Pacific), map to the zone they
  finally resolve to, when that zone is canonical. Browsers report such names (Chrome
  says Asia/Calcutta and Asia/Saigon). A few of them the main data links across a border
  although zone.tab names their place (Africa/Asmera to Africa/Nairobi, Pacific/Truk to
  Pacific/Port_Moresby); ``PLACE_NAMES`` maps those to the zone.tab name instead, as
  IANA's backzone file does, after checking that the place's name is canonical and
  resolves to the same zone.
* The spellings of UTC (UTC, Etc/UTC, UCT, Universal, Zulu, GMT, Etc/GMT, GMT0, GMT+0,
  GMT-0, Greenwich, with or without Etc/) map to 'UTC': every name whose zone is Etc/UTC
  or Etc/GMT, both of which are UTC for all time.

Refused (left out, so the database rejects them):

* Etc/GMT+N and Etc/GMT-N: POSIX inverts the sign (Etc/GMT+5 is five hours *behind* UTC)
  and PostgreSQL reads 'UTC+5' the POSIX way too, so whichever way a person meant it, half
  of them would get the wrong offset; fixed offsets also never follow a place's summer
  time.
* Abbreviations and POSIX rules (EST, HST, CET, PST8PDT, EST5EDT): since 2024b most are
  links to one real zone (EST to America/Panama), which is never what someone writing
  'EST' means; 'UTC+10' and the like are not names in the data at all.
* Single-word legacy links (Japan, Singapore, Iceland, GB, NZ, PRC, W-SU): no browser
  reports them (ICU canonicalises to Area/Location), the profile CHECK already refused
  them, and following the data would store surprising zones (Iceland is a link to
  Africa/Abidjan, GB and PRC are abbreviations by shape). Refusing them keeps one rule:
  Area/Location or UTC.
* 'Factory', 'localtime', 'posix/...', 'right/...': not zones a person lives in (the last
  three are not in the data, the first is a Zone outside every area).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIGRATION = ROOT / "supabase" / "migrations" / "20261130090000_canonical_time_zones.sql"
SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")

UTC = "UTC"
# The zones that are UTC for all time; every name that resolves to one of them means UTC.
UTC_ZONES = frozenset({"Etc/UTC", "Etc/GMT"})
# The areas of the IANA data that name places (zone.tab uses only these).
GEOGRAPHIC_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Area/Location (Area/Region/Location): a capitalised area, then path segments; Etc/ is
# left to the UTC rule, and lower-case areas (posix/, right/) never match.
# Legacy names that the main data links to another country's zone while zone.tab names
# the place itself; from IANA's backzone file and the "#=" notes of its backward file
# (Coral Harbour is in zone.tab's comment for America/Atikokan, Jan Mayen shares SJ with
# Longyearbyen). CLDR, and so Chrome, still reports several of them.
PLACE_NAMES = {
    "Africa/Asmera": "Africa/Asmara",
    "Africa/Timbuktu": "Africa/Bamako",
    "America/Coral_Harbour": "America/Atikokan",
    "America/Virgin": "America/St_Thomas",
    "Antarctica/South_Pole": "Antarctica/McMurdo",
    "Atlantic/Jan_Mayen": "Arctic/Longyearbyen",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Yap": "Pacific/Chuuk",
}
_AREA_LOCATION = re.compile(r"^(?!Etc/)[A-Z][A-Za-z]*(/[A-Za-z0-9_+-]+)+$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_+/-]+$")
_VERSION = re.compile(r"^#\s*version\s+(\S+)")
_MAX_LINK_HOPS = 16


class TimeZoneDataError(Exception):
    """The IANA data could not be found or read as expected."""


@dataclass(frozen=True)
class Source:
    """Where the IANA data was read from, and which release it is."""

    tzdata_zi: Path
    zone_tab: Path
    description: str


@dataclass(frozen=True)
class TzData:
    """The parts of one IANA release the mapping needs."""

    version: str
    zones: frozenset[str]
    links: dict[str, str]  # link name -> target as written
    zone_tab: frozenset[str]


@dataclass(frozen=True)
class Mapping:
    """Every accepted name and its canonical spelling."""

    names: dict[str, str]

    @property
    def canonical(self) -> frozenset[str]:
        return frozenset(self.names.values())

    @property
    def links(self) -> dict[str, str]:
        return {name: canonical for name, canonical in self.names.items() if name != canonical}


def find_source(folder: Path | None = None) -> Source:
    """The ``tzdata`` package's data if installed, else the host's (or ``folder``'s)."""
    if folder is None:
        spec = importlib.util.find_spec("tzdata")
        if spec is not None and spec.submodule_search_locations:
            package = Path(next(iter(spec.submodule_search_locations)))
            zoneinfo = package / "zoneinfo"
            if (zoneinfo / "tzdata.zi").is_file() and (zoneinfo / "zone.tab").is_file():
                return Source(
                    zoneinfo / "tzdata.zi", zoneinfo / "zone.tab", f"the tzdata package {_package_version()}"
                )
        folder = SYSTEM_ZONEINFO
    zi, tab = folder / "tzdata.zi", folder / "zone.tab"
    if not (zi.is_file() and tab.is_file()):
        raise TimeZoneDataError(f"no tzdata.zi and zone.tab in {folder}; install the tzdata package")
    return Source(zi, tab, str(folder))


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 (only on this path)

    try:
        return version("tzdata")
    except PackageNotFoundError:
        return "(version unknown)"


def read_tzdata(source: Source) -> TzData:
    """Parse the Zone and Link lines of ``tzdata.zi`` (compact or full spelling) and ``zone.tab``."""
    version = ""
    zones: set[str] = set()
    links: dict[str, str] = {}
    for line in source.tzdata_zi.read_text(encoding="utf-8").splitlines():
        if match := _VERSION.match(line):
            version = version or match.group(1)
            continue
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#"):
            continue
        kind = fields[0]
        if kind in ("Z", "Zone"):
            zones.add(fields[1])
        elif kind in ("L", "Link"):
            links[fields[2]] = fields[1]
    zone_tab = frozenset(
        fields[2]
        for line in source.zone_tab.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#") and len(fields := line.split("\t")) >= 3
    )
    if not version or not zones or not zone_tab:
        raise TimeZoneDataError(f"{source.tzdata_zi} or {source.zone_tab} is not IANA data as expected")
    return TzData(version=version, zones=frozenset(zones), links=links, zone_tab=zone_tab)


def final_zone(name: str, data: TzData) -> str | None:
    """The Zone a name finally resolves to through links, or None if it resolves to none."""
    for _ in range(_MAX_LINK_HOPS):
        if name in data.zones:
            return name
        target = data.links.get(name)
        if target is None:
            return None
        name = target
    raise TimeZoneDataError(f"link chain too long at {name}")


def is_area_location(name: str) -> bool:
    return _AREA_LOCATION.match(name) is not None


def build_mapping(data: TzData) -> Mapping:
    """Apply the rules of this module's docstring to one release."""
    canonical = {
        name for name in data.zones if is_area_location(name) and name.split("/")[0] in GEOGRAPHIC_AREAS
    }
    canonical |= data.zone_tab
    canonical.add(UTC)
    names = {name: name for name in canonical}
    for name in data.zones | data.links.keys():
        if name in names:
            continue
        zone = final_zone(name, data)
        if zone in UTC_ZONES:
            names[name] = UTC
        elif is_area_location(name) and zone in canonical:
            names[name] = _place_name(name, zone, canonical, data)
    mapping = Mapping(names=dict(sorted(names.items(), key=lambda item: (item[0].lower(), item[0]))))
    _check(mapping, data)
    return mapping


def _place_name(name: str, zone: str, canonical: set[str], data: TzData) -> str:
    """The zone.tab name of ``PLACE_NAMES`` for ``name`` if it has one, else ``zone``."""
    place = PLACE_NAMES.get(name)
    if place is None:
        return zone
    # The place resolves to the same zone, or (in data built with backzone) is a zone itself.
    if place not in canonical or final_zone(place, data) not in (zone, place):
        raise TimeZoneDataError(
            f"PLACE_NAMES maps {name} to {place}, which is no longer a canonical name for {zone}; review it"
        )
    return place


def _check(mapping: Mapping, data: TzData) -> None:
    """The invariants the migration relies on: safe literals, unique in any case, names that exist."""
    lowered: dict[str, str] = {}
    for name in mapping.names:
        if not _SAFE_NAME.match(name):
            raise TimeZoneDataError(f"unexpected character in time zone name {name!r}")
        other = lowered.setdefault(name.lower(), name)
        if other != name:
            raise TimeZoneDataError(f"{other!r} and {name!r} differ only in case")
    for name in mapping.canonical - {UTC}:
        if name not in data.zones and name not in data.links:
            raise TimeZoneDataError(f"canonical name {name!r} is neither a zone nor a link")


def render(mapping: Mapping, data: TzData, source: Source) -> str:
    values = ",\n".join(f"  ('{name}', '{canonical}')" for name, canonical in mapping.names.items())
    return _TEMPLATE.format(
        version=data.version,
        source=source.description,
        canonical_count=len(mapping.canonical),
        link_count=len(mapping.links),
        values=values,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=MIGRATION, help="the migration file to write")
    parser.add_argument("--source", type=Path, help="a folder holding tzdata.zi and zone.tab")
    args = parser.parse_args(argv)
    try:
        source = find_source(args.source)
        data = read_tzdata(source)
        mapping = build_mapping(data)
    except TimeZoneDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(render(mapping, data, source), encoding="utf-8")
    print(
        f"{args.output}: IANA tz {data.version} from {source.description}: "
        f"{len(mapping.canonical)} canonical names, {len(mapping.links)} other names mapped to them",
        file=sys.stderr,
    )
    return 0


_TEMPLATE = """\
-- Generated by scripts/time_zones.py from IANA tz {version} ({source}); do not edit by hand.
-- {canonical_count} canonical names and {link_count} other spellings that map to them.
-- To take a newer release: `.venv/bin/pip install -U tzdata`, then
--   .venv/bin/python scripts/time_zones.py --output supabase/migrations/<YYYYMMDDHHMMSS>_refresh_time_zones.sql
-- (a new migration: an applied one never runs again; this SQL applies cleanly on top of itself).
--
-- Only canonical IANA time-zone names are stored in profiles. PostgreSQL finds a zone in
-- any letter case, the worker's zoneinfo only in its exact spelling: 'Pacific/auckland'
-- passed the profile CHECK, then the worker silently fell back to UTC. Browsers also
-- report legacy names (Chrome says 'Asia/Calcutta'). So a name is now normalised to its
-- canonical spelling when it is written, or refused with a clear error.
--
-- What the table holds (the script's docstring has the reasons): every IANA zone named
-- Area/Location, every zone.tab name and 'UTC', each mapped to itself; links of the same
-- shape (Asia/Calcutta, US/Eastern, Europe/Kiev) mapped to the zone they resolve to; the
-- spellings of UTC (Etc/UTC, Zulu, GMT, Etc/GMT, GMT0, ...) mapped to 'UTC'. Left out, and
-- so refused: Etc/GMT+N and Etc/GMT-N (POSIX inverts their sign), abbreviations and POSIX
-- rules ('EST', 'PST8PDT', 'UTC+10'), single-word legacy links ('Japan', 'GB'), 'Factory',
-- 'localtime', 'posix/...' and 'right/...'.

create table if not exists public.time_zone_names (
  name text primary key,
  canonical text not null
);

comment on table public.time_zone_names is
  'IANA time-zone names accepted for profiles, in their own spelling, and the canonical name each is stored as. Generated by scripts/time_zones.py.';

-- Lookups ignore case, so no two names may differ only in case.
create unique index if not exists time_zone_names_lower_name_key
  on public.time_zone_names (lower(name));

insert into public.time_zone_names (name, canonical) values
{values}
on conflict (name) do update set canonical = excluded.canonical;

-- The server's own zone data may be older than the release above. A name whose canonical
-- zone PostgreSQL does not know is dropped, once, here, so the lookups below never need
-- pg_timezone_names (it reads every zone file on each query).
do $$
declare
  unknown integer;
begin
  delete from public.time_zone_names t
  where not exists (
    select 1 from pg_catalog.pg_timezone_names z where z.name = t.canonical
  );
  get diagnostics unknown = row_count;
  if unknown > 0 then
    raise notice 'time_zone_names: % names left out: this server''s time-zone data lacks their zone', unknown;
  end if;
end
$$;

analyze public.time_zone_names;

-- Public reference data: anyone may read it, no API role writes it.
alter table public.time_zone_names enable row level security;

revoke all on public.time_zone_names from anon, authenticated, service_role;
grant select on public.time_zone_names to anon, authenticated, service_role;

drop policy if exists "Anyone can read time zone names" on public.time_zone_names;
create policy "Anyone can read time zone names" on public.time_zone_names
  for select to anon, authenticated using (true);

-- The canonical name for a zone name in any letter case, surrounding spaces trimmed; null
-- when the name is unknown or refused. One probe of the unique index on lower(name).
create or replace function public.canonical_time_zone(zone text)
returns text
language sql
stable
security invoker
set search_path = ''
as $$
  select t.canonical
  from public.time_zone_names t
  where pg_catalog.lower(t.name) = pg_catalog.lower(pg_catalog.btrim(zone));
$$;

-- The canonical name, or SQLSTATE 22023 (invalid_parameter_value) naming the input: at most
-- 64 of its characters, each control character shown as '?' (so a stray newline neither
-- breaks the log line nor hides: 'Europe/Berlin' plus a newline shows as "Europe/Berlin?").
-- A null stays null: whether a zone may be missing is the column's business.
create or replace function public.require_time_zone(zone text)
returns text
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  canonical text;
  shown text;
begin
  if zone is null then
    return null;
  end if;
  canonical := public.canonical_time_zone(zone);
  if canonical is null then
    shown := pg_catalog.regexp_replace(pg_catalog.left(zone, 1024), '[[:cntrl:]]', '?', 'g');
    if pg_catalog.length(shown) > 64 then
      shown := pg_catalog.left(shown, 63) || '…';
    end if;
    raise exception using
      errcode = 'invalid_parameter_value',
      message = pg_catalog.format('unknown time zone "%s": use an IANA name such as Europe/Berlin', shown),
      hint = 'Time zones are IANA names of the form Area/Location (America/New_York, Asia/Kolkata) or UTC; '
        || 'abbreviations such as PST and offsets such as UTC+10 or Etc/GMT+5 are not accepted.';
  end if;
  return canonical;
end
$$;

-- Profiles already stored keep their zone in its canonical spelling; a zone that cannot be
-- normalised becomes UTC (the column's default), counted in a notice, never named.
do $$
declare
  normalised integer;
  reset_to_utc integer;
begin
  update public.profiles p
  set timezone = public.canonical_time_zone(p.timezone)
  where public.canonical_time_zone(p.timezone) <> p.timezone;
  get diagnostics normalised = row_count;

  update public.profiles p
  set timezone = 'UTC'
  where public.canonical_time_zone(p.timezone) is null;
  get diagnostics reset_to_utc = row_count;

  if normalised > 0 then
    raise notice 'profiles: % time zones rewritten in their canonical spelling', normalised;
  end if;
  if reset_to_utc > 0 then
    raise notice 'profiles: % time zones were not known IANA names and are now UTC', reset_to_utc;
  end if;
end
$$;

-- Every write of a profile's time zone stores the canonical name or fails with the error
-- above; the CHECK profiles_timezone_is_iana stays as the last word.
create or replace function public.profiles_normalise_time_zone()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if new.timezone is not null then
    new.timezone := public.require_time_zone(new.timezone);
  end if;
  return new;
end
$$;

drop trigger if exists profiles_normalise_time_zone on public.profiles;
create trigger profiles_normalise_time_zone
  before insert or update of timezone on public.profiles
  for each row execute function public.profiles_normalise_time_zone();

-- The lookups are for signed-in people and the backend (PostgREST RPCs); the trigger
-- function is only ever fired, never called.
revoke execute on function public.canonical_time_zone(text), public.require_time_zone(text) from public, anon;
grant execute on function public.canonical_time_zone(text), public.require_time_zone(text)
  to authenticated, service_role;
revoke execute on function public.profiles_normalise_time_zone()
  from public, anon, authenticated, service_role;
"""


if __name__ == "__main__":
    sys.exit(main())
