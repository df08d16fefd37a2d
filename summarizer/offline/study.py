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
from ..vocab import Match
from .mentions import TREATMENT_KINDS, Mentions, cue_words, find_cues, is_negated
from .facts import clean_name, extend_manifestation, history_scopes, source_text

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


def _objective_spans(layout: Layout) -> list[tuple[int, int]]:
    """Sentences that state what the report is about (aim / 'we report')."""
    spans = []
    for sec in layout.sections:
        for s in sec.sentences:
            if sec.kind == "objective" or re.search(r"\b(?:we|here(?:in)?)\s+(?:report|present|describe|investigated|evaluated|assessed)\b|\bthe\s+(?:aim|objective|purpose)\b", s.text, re.I):
                spans.append((s.start, s.end))
    return spans


def frame_study(layout: Layout, mentions: Mentions, title_span: tuple[int, int] | None) -> StudyFrame:
    frame = StudyFrame()
    text = layout.text
    places = []
    ts = title_span
    if ts:
        places.append(ts)
    places += _objective_spans(layout)

    def first(kinds: tuple[str, ...]) -> Match | None:
        for a, b in places:
            ms = [m for m in mentions.within(a, b, *kinds) if not _denied(text, m)]
            if ms:
                return ms[0]
        return None

    # condition and problem: the title's structure ("X in Y", "X complicating Y",
    # "Y complicated by X"), else the first disease of the title / aim, else the
    # most mentioned disease
    cond, prob = _title_condition_problem(text, mentions, ts) if ts else (None, None)
    if cond is None:
        cond = first(("disease",))
    if cond is None:
        # the disease the text talks about most, leaving out those listed as the
        # patient's history ("a history of hypertension and gout")
        history = [span for sec in layout.sections if sec.kind in {"case", "body", "methods"} for s in sec.sentences for span in history_scopes(text, s)]
        body = [
            m for m in mentions.matches
            if m.has("disease") and _in_body(layout, m.start) and not _denied(text, m) and not is_negated(text, m.start, max(0, m.start - 300))
            and not any(a <= m.start < b for a, b in history)
        ]
        if body:
            cond = _diagnosed_disease(text, body)
    if cond is not None:
        entry = cond.first("disease") or cond.first("sign", "manifestation")
        a, b = extend_condition(text, cond, mentions, ts[0] if ts and ts[0] <= cond.start < ts[1] else max(0, cond.start - 60))
        surface = text[a:b]
        frame.condition = clean_name(surface) if len(surface) > 4 or not surface.isupper() else entry.canonical
        frame.condition_span = (a, b)
        frame.condition_keys = {entry.canonical.lower(), cond.surface.lower(), frame.condition.lower()}
        for m in mentions.matches:
            e = m.first("disease", "sign", "manifestation")
            if e and e.canonical == entry.canonical:
                frame.condition_keys.add(m.surface.lower())

    # problem: a manifestation of the title narrower than the condition
    if prob is None and ts:
        for m in mentions.within(*ts, "manifestation", "sign"):
            if frame.condition_keys and m.surface.lower() in frame.condition_keys:
                continue
            prob = m
            break
    if prob is not None:
        a, b = extend_manifestation(text, prob, ts[0] if ts else prob.start, ts[1] if ts else prob.end)
        pre = re.search(r"([\w-]+-(?:induced|associated|related))\s+$", text[max(0, a - 40) : a])
        if pre:
            a -= len(text[max(0, a - 40) : a]) - pre.start(1)
        frame.problem = clean_name(text[a:b])
        frame.problem_span = (a, b)

    # intervention: a treatment named in the title / aim
    tr = None
    for a, b in places:
        candidates = [m for m in mentions.within(a, b, *TREATMENT_KINDS) if _names_intervention(text, m, a)]
        if candidates:
            tr = candidates[0]
            break
    if tr is None:
        tr = _most_discussed_treatment(layout, mentions)
    if tr is not None:
        entry = tr.first(*TREATMENT_KINDS)
        frame.intervention = clean_name(tr.surface)
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


_PROBLEM_THEN_CONDITION = re.compile(
    r"^\s*(?:,\s*)?(?:in|complicating|associated\s+with|secondary\s+to|due\s+to|related\s+to|during|revealing|"
    r"in\s+(?:a|an|the|two|three|four|\d+)?\s*(?:[\w-]+\s+){0,3}?(?:patients?|child(?:ren)?|wom[ae]n|m[ae]n|boys?|girls?|infants?|adults?|cases?|adolescents?|neonates?)\s+(?:with|affected\s+by|suffering\s+from))\s+(?:an?\s+|the\s+)?(?:[\w'-]+\s+){0,2}$",
    re.I,
)
_CONDITION_THEN_PROBLEM = re.compile(r"^\s*(?:,\s*)?(?:complicated\s+(?:by|with)|presenting\s+(?:as|with)|with)\s+(?:an?\s+|the\s+)?(?:[\w'-]+\s+){0,2}$", re.I)


def _title_condition_problem(text: str, mentions: Mentions, span: tuple[int, int]) -> tuple[Match | None, Match | None]:
    """(condition, problem) from the title's structure, when it has two clinical terms joined by a connector."""
    ms = [m for m in mentions.within(span[0], span[1], "disease", "sign", "manifestation") if not _denied(text, m)]
    for a, b in zip(ms, ms[1:]):
        between = text[a.end : b.start]
        if _PROBLEM_THEN_CONDITION.match(between) and b.has("disease"):
            return b, a
        if _CONDITION_THEN_PROBLEM.match(between) and a.has("disease"):
            return a, b
    return None, None


_AGENT_SUFFIX = re.compile(r"^-?(?:induced|associated|related|refractory|resistant|dependent|exposed|naive|na\u00efve|treated)\b", re.I)


def _names_intervention(text: str, m: Match, floor: int) -> bool:
    """False for a drug the title mentions as a cause or a failure ("methimazole-induced",
    "under azathioprine", "IVIG-resistant"), not as the treatment reported."""
    if _AGENT_SUFFIX.match(text[m.end : m.end + 14]):
        return False
    before = text[max(floor, m.start - 25) : m.start]
    cues = find_cues(before, "not_intervention")
    return not any(before[c.end :].strip() == "" or re.fullmatch(r"\s*(?:the|a|an|high-dose|low-dose|\w+)?\s*", before[c.end :]) for c in cues)


def extend_condition(text: str, m: Match, mentions: Mentions, floor: int) -> tuple[int, int]:
    """Grow a disease mention over modifiers that belong to its name and over an
    adjacent clinical term ("neonatal" + "herpes simplex virus" + "encephalitis")."""
    start = m.start
    modifiers = cue_words("condition_modifier")
    previous = [x for x in mentions.within(floor, m.start, "disease", "sign") if x.end <= m.start]
    while True:
        if previous and re.fullmatch(r"[\s-]*(?:[a-z]+[\s-]+)?", text[previous[-1].end : start]) and not re.search(
            r"\b(?:and|or|in|of|with|by|for|to|the|a|an|after|during|complicating)\b", text[previous[-1].end : start], re.I
        ):
            start = previous.pop().start
            continue
        pre = re.search(r"([A-Za-z][\w-]*)[\s-]+$", text[floor:start])
        if pre and pre.group(1).lower() in modifiers:
            start = floor + pre.start(1)
            continue
        break
    return start, m.end


_SECTION_WEIGHT = {"conclusion": 2, "discussion": 1, "case": 1, "results": 1, "body": 1, "methods": 1}


def _most_discussed_treatment(layout: Layout, mentions: Mentions) -> Match | None:
    """When neither title nor aims name the treatment: the one the report talks about most
    (conclusions count double; background sentences about other patients do not count)."""
    from .facts import treatment_key

    score: Counter = Counter()
    first: dict[str, Match] = {}
    supportive = cue_words("supportive") | cue_words("generic_treatment")
    for m in mentions.matches:
        if not m.has(*TREATMENT_KINDS) or m.surface.lower() in supportive:
            continue
        sec = layout.section_at(m.start)
        w = _SECTION_WEIGHT.get(sec.kind, 0) if sec else 0
        if w and _names_intervention(layout.text, m, sec.start):
            k = treatment_key(m)
            score[k] += w
            first.setdefault(k, m)
    if not score:
        return None
    best, top = score.most_common(1)[0]
    if list(score.values()).count(top) > 1 and top < 3:
        return None  # no clear favourite: let each patient's story decide
    return first[best]


_DIAGNOSIS_BEFORE = re.compile(
    r"\b(?:diagnos\w*(?:\s+(?:was|as|of|with))?|consistent\s+with|compatible\s+with|suggestive\s+of|confirm\w*(?:\s+(?:the\s+)?diagnosis\s+of)?|"
    r"(?:a|the)\s+case\s+of|suffering\s+from|known\s+to\s+have|presentation\s+of)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}$",
    re.I,
)


def _diagnosed_disease(text: str, body: list[Match]) -> Match:
    """With no title: the disease the text diagnoses. Mentions in a diagnosis context
    ("was diagnosed with X", "consistent with X") count triple; terms that are also
    signs or manifestations ("erythema", "cough") count half."""
    score: Counter = Counter()
    first: dict[str, Match] = {}
    for m in body:
        key = m.first("disease").canonical
        w = 0.5 if m.has("manifestation", "sign") else 1.0
        if _DIAGNOSIS_BEFORE.search(text[max(0, m.start - 60) : m.start]):
            w *= 3
        score[key] += w
        first.setdefault(key, m)
    best = max(score.items(), key=lambda kv: (kv[1], -first[kv[0]].start))[0]
    return first[best]


_DENIED_AFTER = re.compile(r"^[\s-]*(?:negative|free|naive|na\u00efve|excluded|ruled\s+out)\b", re.I)
_DENIED_BEFORE = re.compile(r"\b(?:non|without|no|not|excluding|exclude[ds]?|rule[ds]?\s+out)[\s-]*$", re.I)


def _denied(text: str, m: Match) -> bool:
    """'HIV-negative', 'without diabetes', 'non-diabetic': the text says the patient does not have it."""
    return bool(_DENIED_AFTER.match(text[m.end : m.end + 14]) or _DENIED_BEFORE.search(text[max(0, m.start - 14) : m.start]))


def _in_body(layout: Layout, pos: int) -> bool:
    sec = layout.section_at(pos)
    return sec is not None and sec.kind in {"background", "objective", "case", "methods", "results", "body"}


def design_hint(layout: Layout, title: str | None) -> str | None:
    """review / trial / cohort when the title or aims say so, else None."""
    scope = " ".join([title or ""] + [s.text for sec in layout.sections if sec.kind in {"objective", "methods"} for s in sec.sentences[:4]])
    # "...: case report and review of the literature" still reports its own patient
    if _REVIEW.search(scope) and not re.search(r"\bcase\s+(?:report|series|study)\b|\b(?:a|one|two|three)\s+cases?\b", title or "", re.I):
        return "review"
    if _TRIAL.search(scope):
        return "trial"
    if _COHORT.search(title or "") or (_COHORT.search(scope) and re.search(r"\b(?:we|this)\s+(?:conducted|performed|analy[sz]ed|included|enrolled|identified)\b", scope, re.I)):
        return "cohort"
    return None


def design_for(layout: Layout, n_individual: int, n_stated: int | None, title: str | None) -> str:
    if n_individual == 0 and (hint := design_hint(layout, title)):
        return hint
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
