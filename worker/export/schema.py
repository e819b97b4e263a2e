"""The JSON Schema of the export document, for renderers outside Python (the share page).

python -m worker.export.schema            # rewrites docs/export-document.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path

from worker.report import ExportDocument

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "export-document.schema.json"


def schema_text() -> str:
    return json.dumps(ExportDocument.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
