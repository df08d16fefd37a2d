"""Study-level facts: design, patient count, condition, problem, intervention, follow-up.

The title is the most reliable statement of what a case report is about
("Digital necrosis in X: interest of Y", "Treatment of refractory X with Y"),
so condition, problem and intervention are read from it first, then from the
study's aim sentences, then from what the patients have in common.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..layout import Layout
from ..vocab import Match, clinical_lexicon
from .mentions import TREATMENT_KINDS, Mentions, find_cues
from .facts import _clean_name, _extend_manifestation, source_text

FOLLOW_UP = re.compile(
    r"\bfollow(?:ed)?[\s-]*up\s+(?:was\s+)?(?:for|of|over|during|period\s+of|duration\s+of|:)?\s*(?:a\s+(?:median|mean|total|period)\s+(?:of\s+)?)?"
    r"(?P<d>\d+(?:[.,]\d+)?(?:\s*(?:[-\u2013]|to)\s*\d+(?:[.,]\d+)?)?\s*(?:days?|weeks?|months?|years?))"
    r"|\bafter\s+(?:a\s+)?(?P<d2>\d+(?:[.,]\d+)?(?:\s*(?:[-\u2013]|to)\s*\d+)?\s*(?:days?|weeks?|months?|years?))\s+of\s+follow[\s-]*up",
    re.I,
)
_REVIEW = re.compile(r"\b(?:systematic\s+review|literature\s+review|review\s+of\s+(?:the\s+)?(?:literature|published|\d+)|meta-analys[ie]s|scoping\s+review|narrative\s+review|we\s+(?:reviewed|searched)|pubmed|medline|embase)\b", re.I)
_TRIAL = re.compile(r"\b(?:randomi[sz]ed|placebo[\s-]controlled|double[\s-]blind|open[\s-]label\s+(?:trial|study)|phase\s+(?:i{1,3}|[1-3])\b|clinical\s+trial|trial)\b", re.I)
_COHORT = re.compile(r"\b(?:cohort|retrospective(?:ly)?|prospective(?:ly)?|registry|multicent(?:er|re)|observational\s+study|chart\s+review|medical\s+records\s+of)\b", re.I)


@dataclass
class StudyFrame:
    """What the report is about, as the patient extractor needs it."""

    condition: str | None = None
    condition_keys: set[str] = field(default_factory=set)
    condition_span: tuple[int, int] | None = None
    problem: str | None = None
    problem_span: tuple[int, int] | None = None
    intervention: str | None = None
    intervention_keys: set[str] = field(default_factory=set)
    intervention_span: tuple[int, int] | None = None
    follow_up: str | None = None
    follow_up_span: tuple[int, int] | None = None


def _title_span(layout: Layout, title: str | None) -> tuple[int, int] | None:
    if not title:
        return None
    for ln in layout.header_lines:
        if ln.text and ln.text.lower().rstrip(".") and ln.text.lower().rstrip(".")[:30] == title.lower()[:30]:
            return ln.start, ln.end
    return None


def _objective_spans(layout: Layout) -> list[tuple[int, int]]:
    """Sentences that state what the report is about (aim / 'we report')."""
    spans = []
    for sec in layout.sections:
        for s in sec.sentences:
            if sec.kind == "objective" or re.search(r"\b(?:we|here(?:in)?)\s+(?:report|present|describe|investigated|evaluated|assessed)\b|\bthe\s+(?:aim|objective|purpose)\b", s.text, re.I):
                spans.append((s.start, s.end))
    return spans


def frame_study(layout: Layout, mentions: Mentions, title: str | None) -> StudyFrame:
    frame = StudyFrame()
    text = layout.text
    places = []
    ts = _title_span(layout, title)
    if ts:
        places.append(ts)
    places += _objective_spans(layout)

    def first(kinds: tuple[str, ...]) -> Match | None:
        for a, b in places:
            ms = mentions.within(a, b, *kinds)
            if ms:
                return ms[0]
        return None

    # condition: a disease named in the title / aim, else the most mentioned one
    cond = first(("disease",))
    if cond is None:
        body = [m for m in mentions.matches if m.has("disease") and _in_body(layout, m.start)]
        if body:
            counts = Counter(m.first("disease").canonical for m in body)
            top = counts.most_common(1)[0][0]
            cond = next(m for m in body if m.first("disease").canonical == top)
    if cond is not None:
        entry = cond.first("disease")
        frame.condition = _clean_name(cond.surface) if len(cond.surface) > 4 or not cond.surface.isupper() else entry.canonical
        frame.condition_span = (cond.start, cond.end)
        frame.condition_keys = {entry.canonical.lower(), cond.surface.lower(), frame.condition.lower()}
        for m in mentions.matches:
            if m.first("disease") and m.first("disease").canonical == entry.canonical:
                frame.condition_keys.add(m.surface.lower())

    # problem: a manifestation in the title that is narrower than the condition
    if ts:
        for m in mentions.within(*ts, "manifestation", "sign"):
            if frame.condition_keys and m.surface.lower() in frame.condition_keys:
                continue
            a, b = _extend_manifestation(text, m, ts[0], ts[1])
            frame.problem = _clean_name(text[a:b])
            frame.problem_span = (a, b)
            break

    # intervention: a treatment named in the title / aim
    tr = first(TREATMENT_KINDS)
    if tr is not None:
        entry = tr.first(*TREATMENT_KINDS)
        frame.intervention = _clean_name(tr.surface)
        frame.intervention_span = (tr.start, tr.end)
        frame.intervention_keys = {entry.canonical.lower()}
        # "oral tacrolimus" in the title names the same drug as "tacrolimus"
        for a, b in places:
            for m in mentions.within(a, b, *TREATMENT_KINDS):
                if m.surface.lower() == tr.surface.lower():
                    frame.intervention_keys.add(m.first(*TREATMENT_KINDS).canonical.lower())

    for sec in layout.sections:
        if sec.kind in {"references", "boilerplate", "figure", "affiliations", "keywords", "coi"}:
            continue
        m = FOLLOW_UP.search(text, sec.start, sec.end)
        if m:
            g = "d" if m.group("d") else "d2"
            frame.follow_up = source_text(layout.view, m.start(g), m.end(g))
            frame.follow_up_span = (m.start(g), m.end(g))
            break
    return frame


def _in_body(layout: Layout, pos: int) -> bool:
    sec = layout.section_at(pos)
    return sec is not None and sec.kind in {"background", "objective", "case", "methods", "results", "body"}


def design_for(layout: Layout, n_individual: int, n_stated: int | None, title: str | None) -> str:
    if n_individual == 1:
        return "case_report"
    if n_individual >= 2:
        return "case_series"
    scope = " ".join([title or ""] + [s.text for sec in layout.sections if sec.kind in {"objective", "methods", "background", "body"} for s in sec.sentences[:6]])
    if _REVIEW.search(scope):
        return "review"
    if _TRIAL.search(scope):
        return "trial"
    if _COHORT.search(scope):
        return "cohort"
    if n_stated and n_stated >= 2:
        return "case_series"
    return "other"
