"""The offline extractor: seed quality, grounding everywhere, and targeted behaviours.

The behaviour tests use short texts written for the tests (not the seeds), so
they check the rule, not a memorised document.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import EVAL, ROOT, SEEDS, gold, seed_text
from summarizer.grounding import check_offsets
from summarizer.offline import extract
from summarizer.scoring import SuiteScore, score_document

ALL_DOCS = sorted((EVAL / "docs").glob("*.txt")) + sorted((EVAL / "holdout" / "docs").glob("*.txt"))


def test_seeds_score_at_least_0_9_micro_f1():
    docs = {s: score_document(extract(seed_text(s)), gold(s), seed_text(s)) for s in SEEDS}
    suite = SuiteScore(docs)
    assert suite.overall.f1 >= 0.9, suite.as_dict()["per_field"]
    for s, d in docs.items():
        assert d.f1 >= 0.85, (s, d.mismatches)


@pytest.mark.parametrize("path", ALL_DOCS, ids=[p.stem for p in ALL_DOCS])
def test_every_evidence_quote_is_the_source_slice(path):
    text = path.read_text(encoding="utf-8")
    summary = extract(text)
    assert check_offsets(summary, text) == []
    assert summary.evidence_items(), "a case report yields grounded facts"


def _one(text: str):
    s = extract(text)
    assert len(s.patients) == 1, [p.label for p in s.patients]
    return s, s.patients[0]


def test_negated_response_and_no_side_effects():
    s, p = _one(
        "Case presentation\nA 61-year-old man with psoriasis was treated with acitretin and ciclosporin without any "
        "improvement, then secukinumab 300 mg subcutaneously resulting in complete clearance after 12 weeks. "
        "No side effects were reported."
    )
    by = {t.name: t for t in p.treatments}
    assert by["acitretin"].response == by["ciclosporin"].response == "no_change"
    assert by["acitretin"].role == "prior"
    assert by["secukinumab"].role == "index" and by["secukinumab"].response == "resolved"
    assert by["secukinumab"].dose == "300 mg" and by["secukinumab"].route == "subcutaneous"
    assert p.adverse_events.status == "none"
    assert p.age_years == 61 and p.sex == "male"


def test_sex_only_from_explicit_cues_and_age_in_months_and_days():
    _, p = _one("Case report\nAn 18-month-old infant presented with fever for five days and was given ibuprofen.")
    assert p.age_years == 1.5 and p.sex is None
    _, p = _one("Case report\nA 12-day-old neonate developed seizures. She was treated with phenobarbital.")
    assert p.age_years == 0.03 and p.sex == "female"


def test_reference_list_and_background_drugs_are_not_treatments():
    text = (
        "Background: Rituximab and cyclophosphamide are used for refractory vasculitis in other patients.\n\n"
        "Case: A 70-year-old woman with vasculitis received prednisolone and improved.\n\n"
        "References\n1. Smith J, Doe A. Infliximab in vasculitis. J Rheumatol 2010;37:100-5.\n"
    )
    _, p = _one(text)
    assert [t.name for t in p.treatments] == ["prednisolone"]
    assert p.treatments[0].response == "improved"


def test_labelled_cases_and_a_group_with_patient_lines():
    s = extract(
        "Patients\nTwo siblings with familial Mediterranean fever were started on colchicine. "
        "Patient 1: 8 year old boy, age of onset 3 years. Patient 2: 5 year old girl, age of onset 2 years.\n\n"
        "Results\nBoth patients had no further attacks."
    )
    assert [(p.label, p.age_years, p.sex, p.age_at_onset_years) for p in s.patients] == [
        ("Patient 1", 8, "male", 3),
        ("Patient 2", 5, "female", 2),
    ]
    assert s.study.design == "case_series" and s.study.n_patients == 2
    assert all(p.treatments[0].name == "colchicine" for p in s.patients)


def test_comorbidities_from_history_and_findings_with_results():
    _, p = _one(
        "Case report\nA 58-year-old man with a history of hypertension and gout presented with purpura. "
        "Antinuclear antibodies were negative and C-reactive protein was 88 mg/L. He received methylprednisolone."
    )
    assert p.comorbidities == ["hypertension", "gout"]
    results = {f.name: f.result for f in p.findings}
    assert results["C-reactive protein"] == "88 mg/L"
    assert any(r == "negative" for r in results.values())


def test_death_is_the_outcome():
    _, p = _one("Case report\nA 77-year-old woman with sepsis was given meropenem but died on day 4.")
    assert p.outcome.status == "died"


def test_metadata_from_web_page_debris():
    text = (
        "Open Access\n\nRare presentation of sarcoidosis\n\n"
        "  \u2022 Ana\u00a0L\u00f3pez\u00b9,\n  \u2022 B\u00a0M\u00fcller\u00b2 and\n  \u2022 Chen\u00a0Wei\u00b9\n"
        "Clinical Case Reports20215(Suppl 2):P104\n\nhttps://doi.org/10.1234/ccr.2021.104.\n\n"
        "Published: 3\u00a0March\u00a02021\n\nCase\nA 40-year-old man had uveitis and was treated with adalimumab.\n"
    )
    d = extract(text).document
    assert d.title == "Rare presentation of sarcoidosis"
    assert d.authors == ["Ana López", "B Müller", "Chen Wei"]
    assert (d.journal, d.year, d.volume, d.issue, d.pages) == ("Clinical Case Reports", 2021, "5", "Suppl 2", "P104")
    assert d.doi == "10.1234/ccr.2021.104" and d.published == "2021-03-03"


def test_key_message_uses_only_record_numbers_and_names_the_treatment():
    s = extract(seed_text(SEEDS[1]))
    km = s.key_message.plain_language
    assert 1 <= len(re.findall(r"[.!?](?:\s|$)", km)) <= 3
    assert "tacrolimus" in km and "children" in km.lower()
    for number in re.findall(r"\d+", km):
        assert number in seed_text(SEEDS[1])


def test_review_abstract_has_no_individual_patients():
    s = extract(
        "Janus kinase inhibitors for alopecia areata: a systematic review\n\n"
        "Objective: We searched PubMed and Embase for studies of JAK inhibitors in alopecia areata.\n"
        "Results: Fourteen studies with 1,203 patients were included. Baricitinib was the most studied agent.\n"
    )
    assert s.patients == [] and s.study.design == "review"


def test_case_report_with_a_literature_review_still_reports_its_patient():
    s = extract(
        "Optic neuritis after nivolumab: case report and review of the literature\n\n"
        "Neuroophthalmol Rep. 2011 Mar-Apr;26(2):68-73. doi: 10.1234/nor26068.\n\n"
        "Abstract\n\nA 59-year-old man with melanoma developed blurred vision after nivolumab. "
        "He received methylprednisolone and recovered.\n"
    )
    assert s.study.design == "case_report" and len(s.patients) == 1
    d = s.document
    assert (d.journal, d.year, d.volume, d.issue, d.pages, d.doi) == ("Neuroophthalmol Rep", 2011, "26", "2", "68-73", "10.1234/nor26068")
    assert (s.patients[0].age_years, s.patients[0].sex) == (59, "male")


def test_medline_export_fields_and_inline_headings():
    text = (
        "PMID- 12345678\nOWN - NLM\nVI  - 12\nIP  - 3\nDP  - 2019 Mar\n"
        "TI  - Refractory pyoderma gangrenosum treated with ustekinumab: a\n      case report.\n"
        "PG  - 45-48\nLID - 10.1000/xyz.2019.12 [doi]\n"
        "AB  - BACKGROUND: Pyoderma gangrenosum is treated with infliximab in other\n"
        "      patients. CASE PRESENTATION: A 52-year-old woman presented with a painful\n"
        "      ulcer. Biopsy showed a dense neutrophilic\n      infiltrate. Ustekinumab was started\n"
        "      and the ulcer healed. CONCLUSIONS: Ustekinumab may help.\n"
        "FAU - Smith, Jane A\nAU  - Smith JA\nAD  - Department of Dermatology, University Hospital, Lyon, France.\n"
        "FAU - van der Berg, Piet\nDEP - 20190215\nJT  - Journal of dermatological cases\nOT  - ustekinumab\n"
    )
    s = extract(text)
    d = s.document
    assert d.title == "Refractory pyoderma gangrenosum treated with ustekinumab: a case report"
    assert d.authors == ["Jane A Smith", "Piet van der Berg"]
    assert d.affiliations == ["Department of Dermatology, University Hospital, Lyon, France"]
    assert (d.journal, d.year, d.volume, d.issue, d.pages) == ("Journal of dermatological cases", 2019, "12", "3", "45-48")
    assert (d.doi, d.published, d.keywords) == ("10.1000/xyz.2019.12", "2019-02-15", ["ustekinumab"])
    (p,) = s.patients
    # "infliximab ... in other patients" sits under the inline BACKGROUND heading
    assert [t.name for t in p.treatments] == ["ustekinumab"]
    (biopsy,) = [f for f in p.findings if f.name == "biopsy"]
    assert biopsy.result == "a dense neutrophilic infiltrate"
    # a finding wrapped over lines is quoted whole
    assert biopsy.evidence[0].quote.endswith("infiltrate")
    assert check_offsets(s, text) == []


def test_identifiers_doses_and_test_names_are_not_facts():
    _, p = _one(
        "Case report\nA 46-year-old woman with Hodgkin lymphoma had malignant cells that were CD20+ and "
        "haemoglobin 9.1 g/dL. She received doxorubicin 25mg/m2, vinblastine 6mg/m2 and the monoclonal antibody "
        "rituximab. Polymerase chain reaction was negative for JC virus. She remained in remission."
    )
    assert "crohn disease" not in [c.lower() for c in p.comorbidities + p.manifestations]
    results = {f.name: f.result for f in p.findings}
    assert results.get("haemoglobin") == "9.1 g/dL"
    assert not any(r.startswith(("25", "6")) for r in results.values()), results  # doses are not lab values
    assert [t.name for t in p.treatments] == ["doxorubicin", "vinblastine", "rituximab"]
    assert p.adverse_events.status == "not_reported"


def test_title_directly_above_a_heading_and_history_phrases():
    s = extract(
        "Pleural empyema in a 63-year-old smoker: a case report\n"
        "Background Empyema is a rare complication of pneumonia and is seen mostly in older adults with risk factors.\n"
        "Case presentation\nA 63-year-old man, a known case of diabetes mellitus, presented with fever and chest pain. "
        "He had a smoking history of 30 pack years. He received piperacillin and recovered.\n"
    )
    assert s.document.title == "Pleural empyema in a 63-year-old smoker: a case report"
    (p,) = s.patients
    assert "diabetes mellitus" in p.comorbidities and "smoking" in p.comorbidities
    assert "smoking" not in p.manifestations and "fever" in p.manifestations


def test_bare_case_labels_under_a_title_and_captions_between_cases():
    s = extract(
        "Two cases of septic thrombophlebitis of the neck\n"
        "Case 1\n"
        "A 31-year-old man was admitted with sore throat and fever [C-reactive protein 210 mg/L]. "
        "He received meropenem and improved.\n"
        "Fig. 1 Case 1: CT of the neck showing thrombosis of the internal jugular vein in a 70-year-old woman.\n"
        "Case 2\n"
        "A 58-year-old woman with diabetes presented with neck swelling. She was treated with clindamycin and recovered.\n"
    )
    assert s.document.title == "Two cases of septic thrombophlebitis of the neck"
    assert [(p.label, p.age_years, p.sex) for p in s.patients] == [("Case 1", 31, "male"), ("Case 2", 58, "female")]
    assert {f.name: f.result for f in s.patients[0].findings}["C-reactive protein"] == "210 mg/L"
    assert [t.name for t in s.patients[1].treatments] == ["clindamycin"]


def test_journal_masthead_with_glued_affiliation_letters():
    d = extract(
        "J Hepatol Rep\n"
        "Journal of Hepatology Reports, ISSN 1234-5678 print, 1234-5679 online, Open Access\n\n"
        "Volume 9, Number 2, May 2021, pages 40-44\n\n"
        "Hepatitis E in a kidney transplant recipient\n\n"
        "Marta Silvaa, Pedro Costab, Ines Rochaa\n\n"
        "aDepartment of Nephrology, Central Hospital, Porto, Portugal\n"
        "bDepartment of Virology, University Hospital, Lisbon, Portugal\n"
        "cCorresponding Author: Pedro Costa, Department of Virology, University Hospital, Lisbon, Portugal\n\n"
        "Manuscript submitted March 2, 2021, accepted March 20, 2021, published online April 5, 2021\n"
        "Short title: Hepatitis E After Transplant\n\n"
        "Abstract\n\nA 45-year-old man on tacrolimus had raised liver enzymes. He was treated with ribavirin and cleared the virus.\n"
    ).document
    assert d.title == "Hepatitis E in a kidney transplant recipient"
    assert d.authors == ["Marta Silva", "Pedro Costa", "Ines Rocha"]
    assert d.affiliations == ["Department of Nephrology, Central Hospital, Porto, Portugal", "Department of Virology, University Hospital, Lisbon, Portugal"]
    assert (d.journal, d.year, d.volume, d.issue, d.pages, d.published) == ("Journal of Hepatology Reports", 2021, "9", "2", "40-44", "2021-04-05")


def test_a_drug_named_as_not_given_is_not_a_treatment():
    _, p = _one(
        "Case report\nA 50-year-old man with Crohn disease had been treated with infliximab, but not azathioprine. "
        "He developed a fistula and was given ustekinumab, which healed it."
    )
    assert [t.name for t in p.treatments] == ["infliximab", "ustekinumab"]


def test_how_to_cite_line_and_masthead_numbers():
    s = extract(
        "Skip to content\n2000\nVolume 20, Issue 3\n  \u2022 ISSN: 1574-0000\n\n"
        "Erythema multiforme after a cephalosporin\n\nLi Wei, Maria Rossi\n\n"
        "How to cite this article: Wei L, Rossi M. Erythema multiforme after a cephalosporin. Skin Case Rep. 2023;14(4):416-419.\n\n"
        "Abstract\n\nA 30-year-old woman developed target lesions after cefuroxime. The reactions were assessed with "
        "the Naranjo scale. Cefuroxime was stopped and the lesions resolved.\n"
    )
    d = s.document
    assert d.title == "Erythema multiforme after a cephalosporin"
    assert (d.journal, d.year, d.volume, d.issue, d.pages) == ("Skin Case Rep", 2023, "14", "4", "416-419")
    assert "reactions" not in s.patients[0].adverse_events.events


def test_a_drug_in_the_history_does_not_cut_off_the_presentation():
    _, p = _one(
        "Case presentation\nWe present a 42-year-old woman with a history of allopurinol intake for gout. "
        "She subsequently developed fever, facial edema and skin rash. Allopurinol was withdrawn and she recovered."
    )
    assert {"fever", "facial edema", "skin rash"} <= set(p.manifestations)


def test_no_seed_specific_text_in_code_or_prompts():
    banned = re.compile(r"serradj|abiayad|meghari|allal|van royen|kerkhof|wilhelmina|oran, algeria|1546-0096|P215|ea6a1c9a960d91e2|22dd3392854c3327", re.I)
    hits = [
        f"{p.relative_to(ROOT)}"
        for folder in ("summarizer", "prompts")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in {".py", ".tsv", ".txt", ".md", ".j2", ".toml", ".json"} and banned.search(p.read_text(encoding="utf-8", errors="ignore"))
    ]
    assert hits == []


@pytest.mark.parametrize("path", ALL_DOCS, ids=[p.stem for p in ALL_DOCS])
def test_key_message_numbers_all_occur_in_the_source(path):
    from summarizer.reply import unsupported_numbers

    text = path.read_text(encoding="utf-8")
    assert unsupported_numbers(extract(text).key_message.plain_language, text) == []
