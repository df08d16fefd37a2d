"""The scorer's rules, each checked against numbers computed by hand."""

from __future__ import annotations

import pytest

from summarizer.models import CaseSummary
from summarizer.scoring import (
    Counts,
    flesch_kincaid_grade,
    pair_patients,
    score_document,
    score_key_message,
    score_list,
    score_scalar,
)


def test_counts_precision_recall_f1():
    c = Counts(tp=3, fp=1, fn=2)
    assert (c.precision, c.recall) == (0.75, 0.6)
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert Counts().f1 == 1.0  # nothing to find, nothing claimed


@pytest.mark.parametrize(
    "field, pred, gold, expected",
    [
        ("age_years", 20.04, 20, (1, 0, 0)),  # within 0.05
        ("age_years", 20.1, 20, (0, 1, 1)),  # wrong value: a false positive and a miss
        ("age_years", None, 20, (0, 0, 1)),  # missed
        ("age_years", 20, None, (0, 1, 0)),  # claimed what gold does not have
        ("age_years", None, None, (0, 0, 0)),  # both empty: no fact
        ("year", 2008, 2008, (1, 0, 0)),
        ("n_patients", 3, 2, (0, 1, 1)),
        ("sex", "male", "female", (0, 1, 1)),
        ("response", "no_change", {"any_of": ["worsened", "no_change", "not_reported"]}, (1, 0, 0)),
        ("route", None, {"any_of": ["intravenous", None]}, (0, 0, 0)),  # null allowed: no miss
        ("route", "oral", {"any_of": ["intravenous", None]}, (0, 1, 0)),  # wrong but null allowed: no miss
        ("title", "DIGITAL NECROSIS: a test", "Digital necrosis - a test", (1, 0, 0)),  # case/punctuation
        ("intervention", "IVIG", "intravenous immunoglobulins", (1, 0, 0)),  # synonyms
        ("condition", "dermatomyositis", "polymyositis", (0, 1, 1)),
    ],
)
def test_scalar_rules(field, pred, gold, expected):
    c = score_scalar(field, pred, gold)
    assert (c.tp, c.fp, c.fn) == expected


def test_list_matching_is_one_to_one():
    # "fever" may match only one of the two gold "fever" items; "rash" is missed, "cough" is extra
    c, pairs = score_list(["fever", "cough"], ["fever", "fever", "rash"])
    assert (c.tp, c.fp, c.fn) == (1, 1, 2)
    assert pairs == [(0, 0)]
    c, _ = score_list(["Ulcerations of the elbow and hands"], ["ulcerations of the elbows and hands"])
    assert (c.tp, c.fp, c.fn) == (1, 0, 0)  # fuzzy


def test_patient_pairing_maximises_agreement_not_order():
    pred = [{"label": "Patient 1", "age_years": 7, "sex": "female"}, {"label": "Patient 2", "age_years": 11, "sex": "male"}]
    gold = [{"label": "Case A", "age_years": 11, "sex": "male"}, {"label": "Case B", "age_years": 7, "sex": "female"}]
    assert pair_patients(pred, gold) == [(0, 1), (1, 0)]
    assert pair_patients(pred, gold[:1]) == [(1, 0)]


def _summary(**patient) -> CaseSummary:
    return CaseSummary.model_validate({"study": {"design": "case_report", "n_patients": 1}, "patients": [{"label": "Patient 1", **patient}]})


def _gold(**patient) -> dict:
    base = {"label": "Patient 1", "age_years": None, "sex": None, "age_at_onset_years": None, "comorbidities": [],
            "manifestations": [], "findings": [], "treatments": [],
            "outcome": {"status": "not_reported", "description": None}, "adverse_events": {"status": "not_reported", "events": []}}
    base.update(patient)
    return {"document": {}, "study": {"design": "case_report", "n_patients": 1}, "patients": [base]}


def test_treatments_match_on_name_then_attributes_are_facts():
    pred = _summary(treatments=[
        {"name": "methotrexate", "role": "prior", "response": "no_change"},
        {"name": "IVIG", "role": "index", "response": "resolved", "courses": 3},
        {"name": "aspirin", "role": "concomitant"},
    ])
    gold = _gold(treatments=[
        {"name": "methotrexate", "role": "prior", "response": "no_change", "courses": None, "dose": None, "route": None, "duration": None},
        {"name": "intravenous immunoglobulins", "role": "index", "response": "improved", "courses": 3, "dose": None, "route": None, "duration": None},
    ])
    d = score_document(pred, gold)
    pf = d.per_field
    assert (pf["patients.treatments"].tp, pf["patients.treatments"].fp, pf["patients.treatments"].fn) == (2, 1, 0)
    assert (pf["patients.treatments.role"].tp, pf["patients.treatments.role"].fp) == (2, 1)  # aspirin's role is unmatched
    assert (pf["patients.treatments.response"].tp, pf["patients.treatments.response"].fp, pf["patients.treatments.response"].fn) == (1, 2, 1)
    assert pf["patients.treatments.courses"].tp == 1
    # 2 design/n facts + label + (2 treatments + role 2 + response 1 + courses 1 + outcome/AE status 2) TP
    assert d.overall.tp == 2 + 1 + 2 + 2 + 1 + 1 + 2


def test_findings_match_on_name_and_result_is_its_own_fact():
    pred = _summary(findings=[{"name": "anti MDA5", "result": "negative"}, {"name": "CK", "result": "850 U/L"}])
    gold = _gold(findings=[{"name": "anti-MDA5 antibodies", "result": "positive"}, {"name": "creatine kinase", "result": "850 U/L"}])
    pf = score_document(pred, gold).per_field
    assert (pf["patients.findings"].tp, pf["patients.findings"].fp, pf["patients.findings"].fn) == (2, 0, 0)
    assert (pf["patients.findings.result"].tp, pf["patients.findings.result"].fp, pf["patients.findings.result"].fn) == (1, 1, 1)


def test_unpaired_patients_count_every_fact():
    pred = CaseSummary.model_validate({"patients": [
        {"label": "Patient 1", "age_years": 30, "sex": "male"},
        {"label": "Patient 2", "age_years": 60, "manifestations": ["fever", "rash"]},
    ]})
    gold = _gold(age_years=30, sex="male")
    d = score_document(pred, gold)
    assert d.per_field["patients.manifestations"].fp == 2  # the extra patient's facts are false positives
    assert d.per_field["patients.age_years"].fp == 1 and d.per_field["patients.age_years"].tp == 1
    assert any("no gold partner" in m for m in d.mismatches)


def test_key_message_scores():
    source = "Two children with JDM received tacrolimus for 7-9 months; their skin healed."
    gold = {"must_mention": [["tacrolimus"], ["two", "2"], ["heal*"], ["muscle strength", "weak*"]]}
    km = score_key_message("Two children got tacrolimus and their skin healed after 9 months.", gold, source)
    assert km.must_mention_recall == 0.75 and km.missing_concepts == ["muscle strength / weak*"]
    assert km.faithfulness == 1.0  # "two", "9" and "tacrolimus" all occur in the source
    bad = score_key_message("Three children got tacrolimus and rituximab for 12 months.", gold, source)
    assert sorted(bad.unsupported) == ["12", "rituximab", "three"]
    assert bad.faithfulness == pytest.approx(1 / 4)
    assert km.words == 11


def test_flesch_kincaid_grade_orders_texts_by_difficulty():
    easy = flesch_kincaid_grade("The cat sat on the mat. The dog ran.")
    hard = flesch_kincaid_grade("Immunosuppressive pharmacotherapy demonstrated considerable efficacy in refractory dermatomyositis manifestations.")
    assert easy < 3 < 15 < hard
