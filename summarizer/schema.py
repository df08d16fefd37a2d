"""The JSON Schema of the contract, exported from the pydantic models.

    python -m summarizer.schema            rewrite schemas/case_summary.schema.json
    python -m summarizer.schema --check    exit 1 when the file and the models differ
"""

from __future__ import annotations

import importlib.resources
import json
import sys

from .models import SCHEMA_VERSION, CaseSummary

SCHEMA_FILE = "case_summary.schema.json"


def case_summary_schema() -> dict:
    schema = CaseSummary.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://summarizer.invalid/schemas/case_summary/{SCHEMA_VERSION}"
    schema["description"] = "One case report summarised: metadata, study, patients with grounded facts, key message."
    return schema


def render_schema() -> str:
    return json.dumps(case_summary_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def installed_schema() -> str:
    return importlib.resources.files("summarizer.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = importlib.resources.files("summarizer.schemas").joinpath(SCHEMA_FILE)
    if "--check" in argv:
        same = target.is_file() and installed_schema() == render_schema()
        print("schema is up to date" if same else f"{SCHEMA_FILE} differs from the models: run python -m summarizer.schema")
        return 0 if same else 1
    with open(str(target), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_schema())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
