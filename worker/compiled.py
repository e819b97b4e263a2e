"""The worker's hot modules, which the production image compiles to C with mypyc.

Outside the model call, a person-week's CPU is spread over many small pieces of Python: the
medical-claim guard, the week's rows read into events, the analytics and the prompt. Compiled
with mypyc (mypy's compiler of typed Python to C extension modules, with which mypy and black
are built) a person-week takes 7-8% less CPU in the real worker with 200 jobs in flight and a seventh less
in the weekly run's whole process at 2,000 people (2% at 10,000); the guard alone, a quarter
less (BENCHMARKS.md, "Compiled hot modules"). Nothing else changes: the same source, the same types
(every module here is already ``mypy --strict`` clean, which mypyc requires).

Where they are compiled: ``scripts/compile.py DIR`` compiles them in ``DIR``, a copy of the
project, never a working tree, where an extension module would be imported in place of a source
file being edited. The image does it in a build stage (``Dockerfile``); the tests build a copy and
run the guard's evaluation sets and the analysis tests on it (``tests/test_compiled.py``);
everywhere else, ``make demo`` and ``make test`` included, the worker runs these modules as
plain Python. :func:`compiled_modules` says which are compiled in the running process (the
worker's start-up log line).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

# Paths from the project's root, in the order mypyc is given them; each is imported by the
# weekly job. Left out: worker.analysis.patterns (mypyc 2.4 writes C for its pydantic model
# that does not build), worker.report (pydantic models: their validation runs in pydantic's
# own compiled core) and modules whose time is not spent in Python (the vocabulary, loaded
# once; the HTTP client, which waits on sockets).
HOT_MODULES = (
    "worker/safety/reading.py",
    "worker/safety/guard.py",
    "worker/safety/ownership.py",
    "worker/analysis/analytics.py",
    "worker/analysis/gather.py",
    "worker/analysis/window.py",
    "worker/ai/prompts.py",
)


def module_name(path: str) -> str:
    """``worker/safety/guard.py`` -> ``worker.safety.guard``."""
    return path.removesuffix(".py").replace("/", ".")


def compiled_modules() -> list[str]:
    """The hot modules this process runs compiled: those it imported, or would import, from
    an extension module (imports the packages that hold them, not the modules)."""
    found = []
    for path in HOT_MODULES:
        name = module_name(path)
        module = sys.modules.get(name)
        spec = module.__spec__ if module is not None else importlib.util.find_spec(name)
        if spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            found.append(name)
    return found
