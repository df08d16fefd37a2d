"""The offline extractor: a deterministic reading of a case report (no network, no model).

    text -> TextView (normalised, offsets kept) -> Layout (header, sections,
    sentences) -> metadata, mentions, study frame, patients -> CaseSummary

Every clinical fact carries evidence quotes that are exact slices of the
input. The key message is composed from the finished record.
"""

from __future__ import annotations

import re

from ..keymessage import compose
from ..layout import Layout
from ..models import CaseSummary, Patient, Study
from ..reader import Source
from ..textview import TextView
from .facts import (
    ev,
    extract_adverse_events,
    extract_conditions,
    extract_findings,
    extract_outcome,
    extract_treatments,
)
from .mentions import Mentions
from .metadata import read_header
from .patients import find_age, find_onset, find_sex, segment
from .study import design_for, design_hint, frame_study

__all__ = ["extract"]


def extract(source: Source | str) -> CaseSummary:
    """Read one case report into a CaseSummary (provenance is filled by the caller)."""
    text = source.text if isinstance(source, Source) else source
    view = TextView(text)
    layout = Layout(view)
    document, title_span = read_header(layout)
    mentions = Mentions(view.text)
    frame = frame_study(layout, mentions, title_span)
    hint = design_hint(layout, document.title)
    cohort = segment(layout, aggregate=hint is not None)

    patients = [
        _patient(view, mentions, frame, block.label, block.label_span, block.own, block.sentences(cohort.shared))
        for block in cohort.blocks
    ]
    n_individual = len(patients)
    study = Study(
        design=design_for(layout, n_individual, cohort.n_stated, document.title),
        n_patients=n_individual or cohort.n_stated,
        condition=frame.condition,
        problem=frame.problem,
        intervention=frame.intervention or _common_index(patients),
        follow_up=frame.follow_up,
    )
    for span, field_name in (
        (frame.condition_span, "condition"),
        (frame.problem_span, "problem"),
        (frame.intervention_span, "intervention"),
        (frame.follow_up_span, "follow_up"),
        (cohort.n_span, "n_patients"),
    ):
        if span:
            study.evidence.append(ev(view, span[0], span[1], field_name))
    summary = CaseSummary(document=document, study=study, patients=patients)
    summary.key_message = compose(summary, text)
    return summary


def _cutoff(view: TextView, index, own) -> int | None:
    """Where the index treatment first appears in the patient's own sentences (analysis offset)."""
    if index is None or not own:
        return None
    starts = [view.analysis_index(e.start) for e in index.evidence if e.field == "name"]
    # "a history of leflunomide intake" tells the background, not when treatment began
    starts = [a for a in starts if not re.search(r"\bhistory\s+of\b[^.;]{0,30}$", view.text[max(0, a - 45) : a], re.I)]
    own_starts = [a for a in starts if any(s.start <= a < s.end for s in own)]
    return min(own_starts) if own_starts else None


def _common_index(patients: list[Patient]) -> str | None:
    names = [t.name for p in patients if (t := p.index_treatment)]
    return max(set(names), key=names.count) if names else None


def _patient(view, mentions, frame, label, label_span, own, sentences) -> Patient:
    findings = extract_findings(view, sentences, mentions)
    treatments = extract_treatments(view, sentences, mentions, frame.intervention_keys, frame.intervention)
    index = next((t for t in treatments if t.role == "index"), None)
    manifestations, comorbidities = extract_conditions(
        view, sentences, mentions, frame.condition_keys, [span for _, span in findings], _cutoff(view, index, own)
    )
    first_treatment = min((view.analysis_index(e.start) for t in treatments for e in t.evidence if e.field == "name"), default=None)
    if first_treatment is None and sentences:
        # no treatment: the outcome is what the last part of the story says, not the presentation
        first_treatment = sentences[0].start + int(0.6 * (sentences[-1].end - sentences[0].start))
    outcome = extract_outcome(view, sentences, mentions, index, first_treatment)
    treatment_spans = [(view.analysis_index(e.start), view.analysis_index(e.end)) for t in treatments for e in t.evidence if e.field == "name"]
    adverse = extract_adverse_events(view, sentences, mentions, frame.condition_keys, treatment_spans)

    p = Patient(label=label)
    evidence = []
    if label_span:
        evidence.append(ev(view, *label_span, "label"))
    age = find_age(own or sentences)
    if age:
        p.age_years = age[0]
        evidence.append(ev(view, *age[1], "age_years"))
    sex = find_sex(own or sentences)
    if sex:
        p.sex = sex[0]
        evidence.append(ev(view, *sex[1], "sex"))
    onset = find_onset(own or sentences)
    if onset:
        p.age_at_onset_years = onset[0]
        evidence.append(ev(view, *onset[1], "age_at_onset_years"))
    # a harm the text ties to a treatment is an adverse event, not a manifestation
    events = {e.lower() for e in adverse.events}
    manifestations = [(n, e) for n, e in manifestations if n.lower() not in events]
    p.comorbidities = [name for name, _ in comorbidities]
    p.manifestations = [name for name, _ in manifestations]
    evidence += [e for _, e in comorbidities] + [e for _, e in manifestations]
    p.findings = [f for f, _ in findings]
    p.treatments = treatments
    p.outcome = outcome
    p.adverse_events = adverse
    p.evidence = evidence
    return p
