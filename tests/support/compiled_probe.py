"""What the hot modules answer, as one JSON document: run in a tree, compared between trees.

    python tests/support/compiled_probe.py      # from the root of the project (or of a copy)

Prints, for every sentence of the guard's four sets (tests/safety/*.jsonl) and every string of
the offline provider's story, analysis and moves for ``PEOPLE`` made-up people
(``report_strings.offline_report_strings``, as bench/guard_cost.py reads them), the guard's finding
(kind and rule) or null; the analysis prompt of each of those people; and which hot modules
this process imported compiled (worker.compiled). tests/test_compiled.py runs it in this tree
and in a compiled copy: everything but the last must be equal.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

from fake_deepseek import sample_week_facts  # noqa: E402
from report_strings import offline_report_strings  # noqa: E402

from worker.ai import prompts  # noqa: E402
from worker.ai.local import LocalProvider  # noqa: E402
from worker.compiled import compiled_modules  # noqa: E402
from worker.safety import load_guard  # noqa: E402
from worker.safety.guard import check_text  # noqa: E402

PEOPLE = 60


def _finding(text: str) -> list[str] | None:
    found = check_text(text)
    return None if found is None else [found.kind, found.rule]


def main() -> int:
    load_guard()
    sentences = [
        json.loads(line)["text"]
        for path in sorted((ROOT / "tests" / "safety").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    provider = LocalProvider()
    answers: list[str] = []
    prompts_of: list[Any] = []
    for person in range(PEOPLE):
        facts = sample_week_facts(person)
        answers += asyncio.run(offline_report_strings(facts, provider))
        prompts_of.append(prompts.analysis_messages(facts))
    document = {
        "sentences": [_finding(text) for text in sentences],
        "answers": [_finding(text) for text in answers],
        "prompts": prompts_of,
        "counts": {"sentences": len(sentences), "answer_texts": len(answers)},
        "compiled": compiled_modules(),
    }
    print(json.dumps(document, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
