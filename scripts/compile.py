"""Compile the worker's hot modules (worker/compiled.py) with mypyc, in a copy of the project.

    .venv/bin/python scripts/compile.py DIR           # DIR: a copy holding worker/ and pyproject.toml
    .venv/bin/python scripts/compile.py --copy DIR    # copy worker/, bench/, tests/, supabase/ and pyproject.toml there first

Each module becomes a C extension module next to its source (``worker/safety/guard.cpython-
311-...so``), which Python imports in place of the ``.py``; the C they share is one more
extension module at the root of DIR. DIR must not be a git working tree: there, a compiled
module would keep running after its source was edited. The interpreter that runs this script
compiles (mypy, with mypyc, must be installed for it, as in ``.venv``; a C compiler and that
Python's headers, ``python3.X-dev`` on Debian), and only that interpreter's version can import
the result. Afterwards every hot module is imported from DIR in a new process, and the script
fails unless each comes from its extension module. Exit codes: 0 done, 1 the build failed,
2 a bad argument.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.compiled import HOT_MODULES, module_name  # noqa: E402 - after the path above

# What --copy takes: the package, the benches, the tests and supabase/ (to measure and check the
# compiled modules in place), and the project's settings (mypy's, which mypyc reads).
COPIED = ("worker", "bench", "tests", "supabase", "pyproject.toml")


class UsageError(Exception):
    """A bad argument: exit 2, nothing built."""


def _checked_target(directory: Path, *, copy: bool) -> Path:
    target = directory.resolve()
    if copy:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{directory} is not a directory")
        if target.exists() and any(target.iterdir()):
            raise UsageError(f"{directory} is not empty: --copy needs a new or empty directory")
        if target == ROOT or ROOT in target.parents:
            raise UsageError(f"{directory} is inside this project: copy it somewhere else")
        return target
    if not target.is_dir():
        raise UsageError(f"{directory} is not a directory")
    if (target / ".git").exists():
        raise UsageError(
            f"{directory} is a git working tree: a compiled module there would run in place of "
            "its source after an edit; compile a copy (--copy DIR)"
        )
    missing = [path for path in (*HOT_MODULES, "pyproject.toml") if not (target / path).is_file()]
    if missing:
        raise UsageError(f"{directory} is not a copy of the project: no {', '.join(missing)}")
    return target


def copy_project(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", ".mypy_cache", ".temp")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)


def compile_modules(target: Path) -> None:
    """mypyc on the hot modules in ``target``; its C and objects (``build/``) removed after."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C compiler ({compiler}): install gcc")
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        raise RuntimeError(f"no {headers}: install this Python's headers (python3.X-dev on Debian)")
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *HOT_MODULES],
        cwd=target,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    shutil.rmtree(target / "build", ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"mypyc failed ({done.returncode}):\n{done.stdout[-4000:]}")


def verify(target: Path) -> list[str]:
    """Import every hot module from ``target`` in a new process: the ones not compiled."""
    names = [module_name(path) for path in HOT_MODULES]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "from worker.compiled import compiled_modules\n"
        "print('\\n'.join(compiled_modules()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=target, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the compiled modules do not import:\n{done.stderr[-4000:]}")
    compiled = set(done.stdout.split())
    return [name for name in names if name not in compiled]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path, help="the copy of the project to compile in")
    parser.add_argument(
        "--copy",
        action="store_true",
        help="copy worker/, bench/, tests/, supabase/ and pyproject.toml there first",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        target = _checked_target(args.directory, copy=args.copy)
    except UsageError as exc:
        print(f"compile: {exc}", file=sys.stderr)
        return 2
    try:
        if args.copy:
            copy_project(target)
        compile_modules(target)
        missing = verify(target)
    except (RuntimeError, OSError) as exc:
        print(f"compile: {exc}", file=sys.stderr)
        return 1
    if missing:
        print(f"compile: not compiled after the build: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"compiled {len(HOT_MODULES)} modules in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
