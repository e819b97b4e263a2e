#!/usr/bin/env bash
# Prepare this machine for `make demo` and `make test`: Debian packages when root
# (PostgreSQL server, pg_cron, fonts, poppler), then a virtualenv with the project.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
  done
fi
[ -n "$PYTHON" ] || { echo "error: Python 3.11 or newer is needed" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "error: $PYTHON is older than 3.11" >&2; exit 1; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not root (or no apt-get); skipping Debian packages: $*" >&2
    return 0
  fi
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing_pkg() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if command -v dpkg-query >/dev/null 2>&1; then
  major="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)"
  if [ -z "$major" ]; then
    apt_install postgresql
    major="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)"
  fi
  want=()
  if [ -n "$major" ] && missing_pkg "postgresql-$major-cron"; then want+=("postgresql-$major-cron"); fi
  for font in fonts-dejavu-core fonts-droid-fallback fonts-symbola; do
    if missing_pkg "$font"; then want+=("$font"); fi
  done
  if missing_pkg poppler-utils; then want+=(poppler-utils); fi
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then want+=(python3-venv); fi
  if [ "${#want[@]}" -gt 0 ]; then apt_install "${want[@]}"; fi
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
