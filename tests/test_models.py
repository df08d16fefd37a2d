"""The contract models, their exported JSON Schema, and the gold files."""

from __future__ import annotations

import json

import jsonschema
import pytest

from helpers import EVAL
from summarizer.models import CaseSummary, Evidence
from summarizer.schema import installed_schema, render_schema
from summarizer.scoring import validate_gold

GOLD = sorted((EVAL / "gold").glob("*.json")) + sorted((EVAL / "holdout" / "gold").glob("*.json"))


def test_schema_file_matches_the_models():
    # Regenerate with `python -m summarizer.schema` after changing summarizer/models.py.
    assert installed_schema() == render_schema()


def test_schema_validates_real_output_and_rejects_bad_vocabulary():
    from summarizer.offline import extract

    summary = extract((EVAL / "docs" / "004_22dd3392854c3327.txt").read_text(encoding="utf-8"))
    schema = json.loads(installed_schema())
    data = json.loads(summary.model_dump_json())
    jsonschema.validate(data, schema)
    data["patients"][0]["treatments"][0]["response"] = "better"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_contract_field_names_and_vocabularies():
    fields = set(CaseSummary.model_fields)
    assert {"schema_version", "document", "study", "patients", "key_message", "provenance"} <= fields
    schema = CaseSummary.model_json_schema()
    defs = schema["$defs"]
    assert defs["Treatment"]["properties"]["role"]["enum"] == ["prior", "index", "concomitant"]
    assert defs["Outcome"]["properties"]["status"]["enum"] == ["resolved", "improved", "no_change", "worsened", "died", "not_reported"]
    assert defs["AdverseEvents"]["properties"]["status"]["enum"] == ["none", "present", "not_reported"]
    assert defs["Study"]["properties"]["design"]["enum"] == ["case_report", "case_series", "cohort", "trial", "review", "other"]


def test_unknown_fields_are_ignored_and_bad_evidence_rejected():
    s = CaseSummary.model_validate({"patients": [{"label": "P1", "shoe_size": 42}], "extra": True})
    assert s.patients[0].label == "P1"
    with pytest.raises(ValueError, match="end 2 is before start 5"):
        Evidence(quote="x", start=5, end=2)


@pytest.mark.parametrize("path", GOLD, ids=[p.stem for p in GOLD])
def test_every_gold_file_validates_with_every_any_of_option(path):
    validate_gold(json.loads(path.read_text(encoding="utf-8")))


def test_gold_validation_catches_a_bad_option():
    gold = json.loads((EVAL / "gold" / "000_ea6a1c9a960d91e2.json").read_text(encoding="utf-8"))
    gold["patients"][0]["treatments"][0]["response"] = {"any_of": ["worsened", "much better"]}
    with pytest.raises(Exception, match="much better|response"):
        validate_gold(gold)
