#!/usr/bin/env bash
# Prepare this machine for `make demo` and `make test`: Debian packages when root
# (PostgreSQL server, pg_cron, plpgsql_check, fonts, poppler, gcc and the interpreter's
# headers), then a virtualenv with the project, then the Supabase CLI (npm, pinned) in
# .tools/supabase-cli.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The interpreter: $PYTHON when given; else the distribution's Python 3.11 when it is
# installed and can make a virtualenv, or root can install its venv module (Debian and Ubuntu
# build /usr/bin/python3.11 with profile-guided and link-time optimization, as the worker's
# image, python:3.11-slim, is built); else the first of python3.11, 3.12, 3.13 and python3 on
# PATH. A source build without --enable-optimizations (pyenv's default) runs the worker's
# Python slower: BENCHMARKS.md, "The interpreter's build".
# `scripts/setup.sh --which-python` prints the interpreter chosen and changes nothing.
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ] && [ -x /usr/bin/python3.11 ]; then
  if /usr/bin/python3.11 -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }; then
    PYTHON=/usr/bin/python3.11
  fi
fi
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
  done
fi
[ -n "$PYTHON" ] || { echo "error: Python 3.11 or newer is needed" >&2; exit 1; }
command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: PYTHON=$PYTHON is not a program" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "error: $PYTHON is older than 3.11" >&2; exit 1; }
real_python() { "$1" -c 'import os, sys; print(os.path.realpath(sys.executable))'; }
py_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"  # 3.11
case "${1:-}" in
  "") ;;
  --which-python) real_python "$PYTHON"; exit 0 ;;
  *) echo "error: unknown option ${1}; the only one is --which-python" >&2; exit 2 ;;
esac

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
  # `supabase db lint` runs plpgsql_check in the database it lints.
  if [ -n "$major" ] && missing_pkg "postgresql-$major-plpgsql-check"; then
    want+=("postgresql-$major-plpgsql-check")
  fi
  # The report's faces (worker/export/fonts.py): Latin/Greek/Cyrillic, Arabic, Hebrew,
  # Devanagari, Thai, Hangul, Chinese/Japanese, emoji.
  for font in fonts-dejavu-core fonts-noto-core fonts-nanum fonts-droid-fallback fonts-symbola; do
    if missing_pkg "$font"; then want+=("$font"); fi
  done
  if missing_pkg poppler-utils; then want+=(poppler-utils); fi
  # The share page's browser test drives Debian's Chromium through Playwright.
  if missing_pkg chromium; then want+=(chromium); fi
  # The venv module of that very version (python3-venv is only the default python3's).
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    want+=("python$py_version-venv")
  fi
  # A C compiler and the interpreter's headers: scripts/compile.py builds the worker's hot
  # modules with mypyc (tests/test_compiled.py), as the image does. The headers come from
  # Debian only for Debian's own interpreter.
  if missing_pkg gcc; then want+=(gcc); fi
  if ! "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    && [ "$(real_python "$PYTHON")" = "/usr/bin/python$py_version" ]; then
    want+=("python$py_version-dev")
  fi
  if [ "${#want[@]}" -gt 0 ]; then apt_install "${want[@]}"; fi
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
elif [ "$(real_python .venv/bin/python)" != "$(real_python "$PYTHON")" ]; then
  echo "note: .venv runs on $(real_python .venv/bin/python), not on $(real_python "$PYTHON");" \
    "\`make clean\` and run again to rebuild it there" >&2
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # compat: a plain path in a .pth file, not an import hook, so every start of Python is
  # about 100 ms faster (and a SIGTERM right after start finds the handler sooner).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=compat
  touch "$stamp"
fi

# The Supabase CLI, pinned (newer releases may not install here), in a project-local
# folder: tests/db/test_supabase_cli.py runs `supabase db push` and `supabase db lint`
# against the test cluster. Keep the version in step with tests/support/supabase_cli.py.
# Without it those tests skip saying why (in CI, where CI is set, they fail).
SUPABASE_CLI_VERSION=2.117.0
cli_dir=.tools/supabase-cli
cli_installed() {
  local pkg="$cli_dir/node_modules/supabase/package.json" bin
  [ -f "$pkg" ] && grep -q "\"version\": *\"$SUPABASE_CLI_VERSION\"" "$pkg" || return 1
  # The real program comes in a per-platform package (@supabase/cli-linux-x64, ...).
  for bin in "$cli_dir"/node_modules/@supabase/cli-*/bin/supabase; do
    [ -x "$bin" ] && return 0
  done
  return 1
}
if ! cli_installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "warning: npm is not installed, so the Supabase CLI $SUPABASE_CLI_VERSION is not either;" \
      "the tests that run it will skip (fail in CI). Install Node.js 20 with npm, then run" \
      "scripts/setup.sh again." >&2
  else
    echo "installing the Supabase CLI $SUPABASE_CLI_VERSION into $cli_dir ..." >&2
    mkdir -p "$cli_dir"
    if ! npm install --prefix "$cli_dir" --save-exact --no-audit --no-fund --no-progress \
      --loglevel=error "supabase@$SUPABASE_CLI_VERSION" >/dev/null </dev/null || ! cli_installed; then
      echo "warning: npm could not install the Supabase CLI $SUPABASE_CLI_VERSION into $cli_dir;" \
        "the tests that run it will skip (fail in CI)." >&2
    fi
  fi
fi

# Deno, for the Edge Functions in supabase/functions (their tests run under `make test`),
# from npm into .tools/deno; their npm: imports are fetched into .tools/deno/cache once.
DENO_VERSION=2.9.6
deno_dir=.tools/deno
deno_bin="$deno_dir/node_modules/.bin/deno"
if ! { [ -x "$deno_bin" ] && "$deno_bin" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; }; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing Deno $DENO_VERSION into $deno_dir ..." >&2
    mkdir -p "$deno_dir"
    npm install --prefix "$deno_dir" --save-exact --no-audit --no-fund --no-progress --loglevel=error \
      "deno@$DENO_VERSION" >/dev/null </dev/null \
      || echo "warning: npm could not install Deno; the Edge Function tests will skip (fail in CI)." >&2
  else
    echo "warning: npm is missing, so Deno is too; the Edge Function tests will skip (fail in CI)." >&2
  fi
fi
# (again whenever any file under supabase/functions is newer than the last fetch: a new
# npm: import is fetched here, where the machine's certificates are in the environment.)
if [ -x "$deno_bin" ] && { [ ! -f "$deno_dir/.cached" ] || [ -n "$(find supabase/functions -newer "$deno_dir/.cached" -print -quit)" ]; }; then
  if DENO_DIR="$deno_dir/cache" DENO_NO_UPDATE_CHECK=1 "$deno_bin" cache --quiet \
    supabase/functions/*/index.ts supabase/functions/*/*_test.ts supabase/functions/_local/*.ts </dev/null; then
    touch "$deno_dir/.cached"
  fi
fi
