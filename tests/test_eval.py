"""The eval harness: the gate on the blessed baseline, regressions caught and named, compare, report."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import EVAL, run_cli
from summarizer.backends import OfflineBackend
from summarizer.config import Config
from summarizer.evaluation import gate, load_results, load_suite, run_suite


def test_gate_passes_on_the_blessed_baseline(tmp_path):
    results, report = tmp_path / "run.json", tmp_path / "report.md"
    proc = run_cli("eval", "-o", str(results), "--report", str(report))
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "gate: passed" in out and "grounding: 100.00%" in out
    data = json.loads(results.read_text())
    assert data["backend"] == "offline" and data["documents_failed"] == 0
    assert data["prompts"]["offline-extractor"]["sha256"] == data["vocabulary_sha256"]
    assert set(data["documents"]) == {p.stem for p in (EVAL / "docs").glob("*.txt")}
    assert data["overall"]["f1"] >= load_results(EVAL / "baseline.json")["overall"]["f1"] - 0.005
    assert report.read_text().startswith("# Eval report")


@pytest.fixture
def suite_copy(tmp_path):
    dst = tmp_path / "suite"
    shutil.copytree(EVAL / "docs", dst / "docs")
    shutil.copytree(EVAL / "gold", dst / "gold")
    shutil.copy(EVAL / "baseline.json", dst / "baseline.json")
    return dst


def test_corrupted_gold_fails_and_names_fields_and_documents(suite_copy):
    for g in (suite_copy / "gold").glob("*.json"):
        data = json.loads(g.read_text())
        for p in data["patients"]:
            if isinstance(p.get("age_years"), (int, float)):
                p["age_years"] += 7
        g.write_text(json.dumps(data))
    proc = run_cli("eval", "--suite", str(suite_copy))
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert "gate: FAILED" in out
    assert "field patients.age_years: F1 0.000" in out
    assert "004_22dd3392854c3327: patients.age_years F1 1.00 -> 0.00" in out
    assert "now wrong: patients[Patient 1].age_years: predicted 11.0, gold 18" in out


class _Degraded(OfflineBackend):
    """The offline extractor with its response reading broken: every response 'not_reported'."""

    async def summarize(self, source):
        s = await super().summarize(source)
        for p in s.patients:
            for t in p.treatments:
                t.response = "not_reported"
        return s


def test_a_degraded_extractor_fails_the_gate():
    docs = load_suite(EVAL)
    run = run_suite(docs, Config(backend="offline"), backend=_Degraded())
    verdict = gate(run.results, load_results(EVAL / "baseline.json"))
    assert not verdict.passed
    assert any(r.startswith("field patients.treatments.response: F1") for r in verdict.reasons)
    assert any(r.startswith("overall F1") for r in verdict.reasons)
    assert any(x.startswith("000_ea6a1c9a960d91e2: patients.treatments.response F1") for x in verdict.flipped)


def test_document_errors_and_ungrounded_quotes_fail_the_gate():
    class Broken(OfflineBackend):
        async def summarize(self, source):
            if source.id.startswith("dev05"):
                raise RuntimeError("model exploded")
            s = await super().summarize(source)
            if source.id.startswith("dev06"):
                s.key_message.plain_language += " "
            return s

    docs = [d for d in load_suite(EVAL) if d.id.startswith(("dev05", "dev06"))]
    run = run_suite(docs, Config(backend="offline"), backend=Broken())
    verdict = gate(run.results, None)
    assert not verdict.passed and verdict.reasons == ["dev05_neonatal_hsv_acyclovir: failed (RuntimeError: model exploded)"]


def test_compare_shows_field_deltas_and_changed_facts(tmp_path):
    docs = load_suite(EVAL)
    good = run_suite(docs, Config(backend="offline")).results
    bad = run_suite(docs, Config(backend="offline"), backend=_Degraded()).results
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(good))
    b.write_text(json.dumps(bad))
    proc = run_cli("eval", "--compare", str(a), str(b))
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "patients.treatments.response" in out
    assert '- patients[Case 1].treatments[methotrexate].response="no_change"' in out
    assert '+ patients[Case 1].treatments[methotrexate].response="not_reported"' in out
    line = next(l for l in out.splitlines() if l.startswith("patients.treatments.response "))
    assert float(line.split()[-1]) < 0


def test_update_baseline_writes_it_and_bad_inputs_are_usage_errors(suite_copy):
    (suite_copy / "baseline.json").unlink()
    proc = run_cli("eval", "--suite", str(suite_copy))
    assert proc.returncode == 0 and "no baseline at" in proc.stdout.decode()
    proc = run_cli("eval", "--suite", str(suite_copy), "--update-baseline")
    assert proc.returncode == 0 and (suite_copy / "baseline.json").is_file()
    assert run_cli("eval", "--suite", str(suite_copy / "nope")).returncode == 2
    bad = run_cli("eval", "--compare", str(suite_copy / "baseline.json"), str(suite_copy / "missing.json"))
    assert bad.returncode == 2 and b"no such results file" in bad.stderr
