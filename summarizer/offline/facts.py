"""Clinical facts of one patient, read from that patient's sentences.

Every function here takes the patient's sentences (own and shared) and
returns contract objects whose evidence quotes are exact slices of the
source. Scope rules are deliberately simple and explicit:

* a response phrase ("without any improvement", "total healing") applies to
  the treatments named before it in the same sentence since the previous
  response phrase, or, when none precede it, to those named after it in its
  clause; a sentence with a response but no treatment continues the story of
  the last treatments named (or of the index treatment in a Results section);
* a negation ("no", "without", "none of") governs the phrase that follows it
  in the same clause;
* a history trigger ("history of") opens a comorbidity list that ends at the
  next verb or clause break.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..layout import Sentence
from ..models import AdverseEvents, Evidence, Finding, Outcome, Treatment
from ..textview import TextView
from ..vocab import NUMBER_WORDS, Match, disease_adjectives, fold_key
from .mentions import (
    CONDITION_KINDS,
    TREATMENT_KINDS,
    Mentions,
    clause_end,
    clause_start,
    cue_words,
    find_cues,
    is_negated,
)
from .patients import ORDINALS, number_value


_NUMBER_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_UNIT = r"(?:mg|g|µg|μg|mcg|ug|ng|IU|UI|U|units?|mL|ml|mmol|mEq|mg/m2|mg/m²)"
DOSE = re.compile(
    rf"\b\d+(?:[.,]\d+)?(?:\s*[-\u2013]\s*\d+(?:[.,]\d+)?)?\s*{_UNIT}\b(?:\s*(?:/|per)\s*(?:kg|m2|m²|d|day|dose|week|wk|h|hour|month|cycle|infusion|bolus))*"
    r"(?:,?\s*(?:/\s*day|(?:once|twice|three\s+times|four\s+times|\d\s+times)\s+(?:daily|a\s+day|per\s+day|weekly|a\s+week)|daily|weekly|monthly|"
    r"twice\s+daily|per\s+day|a\s+day|bid|b\.i\.d|tid|t\.i\.d|qid|qd|q\d+h|every\s+(?:\d+|two|three|four|other)\s+(?:weeks?|days?|months?|hours?)|every\s+(?:week|day|month)))?",
    re.I,
)
DURATION = re.compile(
    rf"\b(?:for|during|over)\s+(?:a\s+(?:period|total|course)\s+of\s+)?(?P<d>(?:\d+(?:[.,]\d+)?|{_NUMBER_WORD})"
    r"(?:\s*(?:[-\u2013]|to)\s*\d+)?\s+(?:days?|weeks?|months?|years?))\b",
    re.I,
)
COURSES = re.compile(
    rf"\b(?P<n>\d{{1,2}}|{_NUMBER_WORD})\s+(?:(?:monthly|weekly|additional|more|further|consecutive|successive)\s+)?"
    r"(?P<unit>courses?|cycles?|sessions?|pulses?|infusions?|series|cures)\b",
    re.I,
)
_TEST_CONTEXT_AFTER = re.compile(r"^\s*(?:-?\s*)?(?:levels?|concentrations?|assays?|values?|trough|titers?|titres?|dependent\s+diabetes)\b", re.I)
_TEST_CONTEXT_BEFORE = re.compile(r"(?:serum|plasma|blood|urinary|urine|anti)[\s-]*$", re.I)
_NOT_GIVEN_BEFORE = re.compile(
    r"\b(?:not\s+(?:be\s+)?(?:treated|given|started|administered|receiv\w*|us\w*|prescribed|indicated)|no\s+(?:further\s+)?(?:treatment|therapy)|"
    r"without|instead\s+of|rather\s+than|refused|declined|avoid\w*|(?:exclude|ruled?\s+out))\b[^.;:]{0,40}$",
    re.I,
)
_NOT_GIVEN_AFTER = re.compile(
    r"^[^.;]{0,30}?\b(?:was|were|is|are|would\s+be|will\s+be)\s+(?:being\s+)?(?:contraindicated|planned|considered|proposed|discussed|"
    r"recommended|scheduled|suggested|reserved|not\s+(?:given|started|available|used|needed|possible|indicated|tolerated\s+initially))",
    re.I,
)
_HYPOTHETICAL_BEFORE = re.compile(
    r"\b(?:plan(?:ned)?\s+(?:to|for)|considered?\s+(?:for|as)?|candidate\s+for|awaiting|scheduled\s+for|referred\s+for|"
    r"options?\s+(?:include|are|such\s+as)|alternatives?\s+(?:include|such\s+as)|such\s+as|if\s+(?:needed|necessary)|may\s+(?:need|require|benefit)|"
    r"could\s+(?:be|have)|should\s+be)\b[^.;]{0,40}$",
    re.I,
)
_OUTCOME_CONTEXT = re.compile(
    r"\b(?:improvement|improved|resolution|resolved|healing|healed|recovery|recovered|disappearance|regression|decrease|reduction|remission|normali[sz]ation)\s+(?:of|in)\s+(?:the\s+|her\s+|his\s+|their\s+|mainly\s+(?:the\s+)?)?(?:[\w-]+\s+){0,3}$",
    re.I,
)
_HISTORY_END = re.compile(
    r"[.;:]|\b(?:was|were|is|are|presented|presenting|who|admitted|followed|developed|came|referred|had|has|consulted|underwent|received)\b",
    re.I,
)
_EXCLUDED_AFTER = re.compile(r"^[^.;]{0,25}?\b(?:was|were)\s+(?:excluded|ruled\s+out|absent|not\s+(?:found|detected|seen|present))\b", re.I)
_EXCLUDE_BEFORE = re.compile(r"\b(?:exclude[ds]?|excluding|rule\s+out|ruled\s+out|search\s+for|screening\s+for|suspicion\s+of|suspected|risk\s+of|differential)\b[^.;]{0,30}$", re.I)


def ev(view: TextView, start: int, end: int, field_name: str | None = None) -> Evidence:
    span = view.text[start:end]
    if span.strip():  # no blanks at the edges of a quote
        start, end = start + len(span) - len(span.lstrip()), end - len(span) + len(span.rstrip())
    quote, s, e = view.quote(start, end)
    return Evidence(quote=quote, start=s, end=e, field=field_name)


def source_text(view: TextView, start: int, end: int) -> str:
    """The source words of an analysis span, whitespace (incl. non-breaking) collapsed."""
    quote, _, _ = view.quote(start, end)
    return re.sub(r"\s+", " ", quote).strip()


def clean_name(surface: str) -> str:
    name = re.sub(r"\s+", " ", surface).strip()
    letters = [c for c in name if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters) and len(name) <= 6:
        return name  # an abbreviation: keep its case
    return name.lower()


# ---------------------------------------------------------------------------
# Treatments


@dataclass
class _TreatmentAcc:
    key: str
    mentions: list["_Unit"] = field(default_factory=list)
    responses: list[tuple[int, str, bool, int, int]] = field(default_factory=list)  # pos, value, negated, s, e
    prior_cue: bool = False
    combined_with_index: bool = False
    route: tuple[str, int, int] | None = None
    dose: tuple[int, int] | None = None
    duration: tuple[int, int] | None = None
    courses: tuple[int, int, int] | None = None

    @property
    def first(self) -> int:
        return self.mentions[0].start


def treatment_key(m: Match) -> str:
    entry = m.first(*TREATMENT_KINDS)
    return (entry.canonical if entry else m.surface).lower()


_FORWARD = re.compile(r"^\s*(?:(?:was|were|has\s+been|had\s+been|is)\s+)?(?:[\w-]+\s+){0,2}?(?:with|after|under|following|on|by|to|using|of)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}?$", re.I)


def _is_given(text: str, m: Match, floor: int) -> bool:
    before = text[max(floor, m.start - 60) : m.start]
    after = text[m.end : m.end + 60]
    if _TEST_CONTEXT_AFTER.match(after) or _TEST_CONTEXT_BEFORE.search(before):
        return False
    if _NOT_GIVEN_BEFORE.search(before[-45:]) and not re.search(r"\b(?:response|improvement|respond|resistan|refractor|success)", before[-45:], re.I):
        return False
    if _NOT_GIVEN_AFTER.match(after) or _HYPOTHETICAL_BEFORE.search(before[-60:]):
        return False
    if re.search(r"(?:,|\bbut|\band)\s+not\s+(?:with\s+|to\s+)?(?:the\s+)?$", before, re.I):
        return False  # "treated with biologics, but not azathioprine"
    return True


def _response_cues(text: str, s: Sentence, mentions: Mentions) -> list[tuple[int, int, str, bool]]:
    """(start, end, value, negated) for the response phrases of a sentence."""
    clinical = mentions.within(s.start, s.end)
    out = []
    for c in find_cues(text, "response", s.start, s.end):
        # "renal failure", "insulin resistance": part of a longer clinical term, not a response
        if any(m.start <= c.start and c.end <= m.end and m.end - m.start > c.end - c.start for m in clinical):
            continue
        negated = is_negated(text, c.start, s.start)
        out.append((c.start, c.end, c.value, negated))
    return out


def _effective(value: str, negated: bool) -> str | None:
    """The response a phrase states, negation included: "no improvement" is no change,
    "no further relapse" is improvement."""
    if not negated:
        return value
    return {"resolved": "no_change", "improved": "no_change", "worsened": "improved"}.get(value)


@dataclass
class _Unit:
    """One written treatment: a mention, or adjacent mentions forming one name
    ("piperacillin\u2013tazobactam", "amphotericin B deoxycholate", "antibiotics (meropenem)")."""

    key: str
    start: int
    end: int
    surface: str
    matches: list[Match]


def treatment_units(text: str, matches: list[Match]) -> list[_Unit]:
    units: list[_Unit] = []
    paren_open = False
    for m in matches:
        if units:
            u = units[-1]
            gap = text[u.end : m.start]
            if not paren_open and gap == " " and len(u.matches) == 1 and not u.matches[0].has("drug") and u.matches[0].has("drug_class") and m.has("drug"):
                units[-1] = _Unit(treatment_key(m), m.start, m.end, m.surface, [m])  # "the monoclonal antibody rituximab"
                continue
            if not paren_open and re.fullmatch(r"\s*[-\u2013/+]\s*|[ ]", gap):
                u.end, u.surface = m.end, text[u.start : m.end]
                u.matches.append(m)
                continue
            if paren_open and re.fullmatch(r"\s*[-\u2013/+,]?\s*(?:and\s+)?", gap):
                u.matches.append(m)
                continue
            if re.fullmatch(r"\s*\(\s*", gap):
                u.matches.append(m)
                paren_open = True
                continue
        paren_open = False
        units.append(_Unit(treatment_key(m), m.start, m.end, m.surface, [m]))
    return units


_TREATMENT_VERB = re.compile(r"\b(?:treated|treatment|therapy|received|receiving|given|started|initiated|administered|on|with|switched|added|prescribed|infusion|injections?)\b", re.I)


def _keep_treatment(text: str, u: _Unit, floor: int, intervention_keys: set[str]) -> bool:
    m = u.matches[0]
    if not _is_given(text, m, floor):
        return False
    if u.key in intervention_keys:
        return True
    surface = u.surface.lower()
    if surface in cue_words("supportive") or surface in cue_words("generic_treatment"):
        return False
    if m.has("test") and not _TREATMENT_VERB.search(text[max(floor, m.start - 40) : m.start]):
        return False  # "haemoglobin 78 g/L" is a test, not a transfusion product
    return True


def extract_treatments(
    view: TextView,
    sentences: list[Sentence],
    mentions: Mentions,
    intervention_keys: set[str],
    intervention_name: str | None = None,
    results_sections: set[str] = frozenset({"results"}),
) -> list[Treatment]:
    text = view.text
    accs: dict[str, _TreatmentAcc] = {}
    last_group: list[_TreatmentAcc] = []
    # responses with no treatment in their clause: (response, treatments named just before)
    free: list[tuple[tuple[int, str, bool, int, int], list[_TreatmentAcc], bool]] = []

    for s in sentences:
        units = [u for u in treatment_units(text, mentions.within(s.start, s.end, *TREATMENT_KINDS)) if _keep_treatment(text, u, s.start, intervention_keys)]
        group: list[_TreatmentAcc] = []
        for u in units:
            acc = accs.setdefault(u.key, _TreatmentAcc(u.key))
            acc.mentions.append(u)
            if acc not in group:
                group.append(acc)
            _attributes(view, s, u, acc, units)
        # prior cues bind forward: "refractory to methotrexate and steroids"
        for c in find_cues(text, "prior_cue", s.start, s.end):
            end = clause_end(text, c.end, s.end)
            for u in units:
                if c.end <= u.start <= end or (u.end <= c.start and c.start - u.end <= 2):
                    acc = accs[u.key]
                    acc.prior_cue = True
                    if re.match(r"(?:refractory|resistant|failed|failure|unresponsive|despite)", c.surface, re.I):
                        acc.responses.append((c.start, "no_change", False, c.start, c.end))
        # combination cues bind the treatments of one clause together
        if find_cues(text, "combination", s.start, s.end) and any(u.key in intervention_keys for u in units):
            for u in units:
                if u.key not in intervention_keys:
                    accs[u.key].combined_with_index = True

        bound_until = s.start
        for start, end, value, negated in _response_cues(text, s, mentions):
            floor = max(bound_until, clause_start(text, start, s.start))
            before = [u for u in units if floor <= u.start and u.end <= start]
            # "remission was achieved with rituximab", "responded to IVIG"
            after = [u for u in units if end <= u.start and _FORWARD.match(text[end : u.start])]
            targets = before or after[:1]
            if before:
                bound_until = end
            response = (start, value, negated, start, end)
            if targets:
                for u in targets:
                    accs[u.key].responses.append(response)
            else:
                free.append((response, list(last_group), s.section in results_sections))
        if units:
            last_group = group

    # a generic word ("surgery") next to the specific procedure it stands for is one treatment
    if any(a.key not in GENERIC_PROCEDURES and _is_procedure(a) for a in accs.values()):
        for k in [k for k in accs if k in GENERIC_PROCEDURES]:
            del accs[k]
    ordered = sorted(accs.values(), key=lambda a: a.first)
    if not ordered:
        return []
    index_keys = [a.key for a in ordered if _is_intervention(a, intervention_keys, intervention_name)]
    if not index_keys and not all(a.prior_cue for a in ordered):  # only earlier treatments: no index
        good = [a for a in ordered if _final_response(a.responses) in ("resolved", "improved")]
        index_keys = [(good[-1] if good else ordered[-1]).key]
    index_first = min((accs[k].first for k in index_keys), default=len(text))
    # an outcome sentence that names no treatment continues the story of the index
    # treatment once it has started, else of the treatments named just before it
    for response, group, in_results in free:
        if in_results or response[0] > index_first:
            for k in index_keys:
                accs[k].responses.append(response)
        else:  # before the index: the story of the treatments named just before, if any
            for acc in group:
                acc.responses.append(response)
    index_sentence = next((s for s in sentences if s.start <= index_first < s.end), None)

    out: list[Treatment] = []
    for a in ordered:
        if a.key in index_keys:
            role = "index"
        elif a.prior_cue or _final_response(a.responses) in ("no_change", "worsened") and a.first < index_first:
            role = "prior"
        elif a.first < index_first and not a.combined_with_index and not (index_sentence and index_sentence.start <= a.first):
            role = "prior"
        else:
            role = "concomitant"
        t = _build_treatment(view, a, role)
        if role == "index" and intervention_name and t.name.lower() in intervention_name.lower():
            t.name = intervention_name  # "immunoglobulins" -> the title's "intravenous immunoglobulins"
        if t.route is None and re.search(r"\bintravenous\b", t.name, re.I):
            t.route = "intravenous"
        out.append(t)
    return out


GENERIC_PROCEDURES = {"surgery", "surgical treatment", "operation", "surgical intervention", "surgical management"}


def _is_procedure(a: _TreatmentAcc) -> bool:
    return any(m.has("procedure") for u in a.mentions for m in u.matches)


def _is_intervention(a: _TreatmentAcc, keys: set[str], name: str | None) -> bool:
    """The study's intervention: same vocabulary entry, or its name is part of the
    intervention's name ("immunoglobulins" in "intravenous immunoglobulins")."""
    if a.key in keys:
        return True
    if not name:
        return False
    target = fold_key(name)
    for u in a.mentions:
        k = fold_key(u.surface)
        if k and any(target[i : i + len(k)] == k for i in range(len(target) - len(k) + 1)):
            return True
    return False


_ORDINAL_COURSE = re.compile(
    r"\b(?:a|the)\s+(?P<ord>single|one|second|third|fourth|fifth|sixth|repeat(?:ed)?)\s+(?:dose|course|cycle|infusion|pulse|session)s?\s+of\s+(?:[\w-]+\s+){0,2}$",
    re.I,
)
_ORDINAL_VALUE = {**ORDINALS, "single": 1, "one": 1, "repeat": 2, "repeated": 2}


def _attributes(view: TextView, s: Sentence, m, acc: _TreatmentAcc, units: list) -> None:
    """Route, dose, duration and courses written next to one treatment mention."""
    text = view.text
    nxt = min([t.start for t in units if t.start > m.start] + [s.end])
    prev = max([t.end for t in units if t.end <= m.start] + [s.start])
    window_end = min(nxt, clause_end(text, m.end, s.end) if not text[m.end : m.end + 3].startswith(" (") else s.end)
    # route: an adjective just before ("oral tacrolimus", "general corticosteroids") or a
    # word after ("given intravenously", "(2 g/kg, iv)")
    if acc.route is None:
        for c in find_cues(text, "route", max(prev, m.start - 25), m.start):
            gap = text[c.end : m.start]
            if not c.surface.lower().endswith("ly") and re.fullmatch(r"[\s-]*(?:[\w-]+[\s-]+)?", gap) and not re.search(r"[,.;]", gap):
                acc.route = (c.value, c.start, c.end)
        if acc.route is None:
            for c in find_cues(text, "route", m.end, min(window_end, m.end + 70)):
                if text[c.end : nxt].strip() == "" and nxt < s.end:
                    continue  # "... and general corticosteroids": the route of the next drug
                acc.route = (c.value, c.start, c.end)
                break
        if acc.route is None:
            for c in find_cues(text, "route", m.start, m.end):  # "intravenous immunoglobulins"
                acc.route = (c.value, c.start, c.end)
    if acc.dose is None:
        d = DOSE.search(text, m.end, min(window_end + 1, m.end + 80))
        if d and not re.search(r"[.;]", text[m.end : d.start()]):
            acc.dose = (d.start(), d.end())
    if acc.duration is None:
        d = DURATION.search(text, m.end, min(nxt, s.end))
        if d and not re.search(r"[.;]", text[m.end : d.start()]):
            acc.duration = (d.start("d"), d.end("d"))
    if acc.courses is None:
        # "five sessions of plasma exchange", "a second dose of IVIG", "... after 3 courses"
        before = text[max(prev, m.start - 60) : m.start]
        c = re.search(COURSES.pattern + r"\s+of\s+(?:[\w-]+\s+){0,2}$", before, re.I)
        o = _ORDINAL_COURSE.search(before)
        if c and number_value(c.group("n")):
            acc.courses = (number_value(c.group("n")), m.start - len(before) + c.start(), m.start - len(before) + c.end("unit"))
        elif o:
            acc.courses = (_ORDINAL_VALUE[o.group("ord").lower()], m.start - len(before) + o.start("ord"), m.start)
        else:
            for c in COURSES.finditer(text, m.end, nxt):
                if re.match(r"\s+of\b", text[c.end() : c.end() + 4]) and nxt < s.end:
                    continue  # belongs to the next treatment
                n = number_value(c.group("n"))
                if n:
                    acc.courses = (n, c.start(), c.end())
                break


def _affirmative(value: str, negated: bool) -> bool:
    """A statement of what happened ("healed", "no further relapse"), as opposed to a
    partial denial ("none showed recovery of muscle strength")."""
    return not negated or value == "worsened"


def _final_response(responses: list[tuple[int, str, bool, int, int]]) -> str:
    plain = [(p, _effective(v, neg)) for p, v, neg, _, _ in responses if _affirmative(v, neg)]
    if plain:
        return sorted(plain)[-1][1]
    negated = [(p, _effective(v, True)) for p, v, neg, _, _ in responses if neg and _effective(v, True)]
    if negated:
        return sorted(negated)[-1][1]
    return "not_reported"


def _build_treatment(view: TextView, a: _TreatmentAcc, role: str) -> Treatment:
    surfaces = [clean_name(m.surface) for m in a.mentions]
    canonical_like = [s for s in surfaces if s.lower() == a.key]
    name = canonical_like[0] if canonical_like else max(surfaces, key=lambda s: (surfaces.count(s), len(s)))
    evidence = [ev(view, m.start, m.end, "name") for m in a.mentions]
    response = _final_response(a.responses)
    for pos, value, neg, s, e in sorted(a.responses):
        if (value if not neg else _effective(value, True)) == response:
            evidence.append(ev(view, s, e, "response"))
            break
    t = Treatment(name=name, role=role, response=response)
    if a.route:
        t.route = a.route[0]
        evidence.append(ev(view, a.route[1], a.route[2], "route"))
    if a.dose:
        t.dose = source_text(view, *a.dose)
        evidence.append(ev(view, *a.dose, "dose"))
    if a.duration:
        t.duration = source_text(view, *a.duration)
        evidence.append(ev(view, *a.duration, "duration"))
    if a.courses:
        t.courses = a.courses[0]
        evidence.append(ev(view, a.courses[1], a.courses[2], "courses"))
    t.evidence = _dedupe_evidence(evidence)
    return t


def _dedupe_evidence(items: list[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for e in items:
        k = (e.start, e.end, e.field)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


# ---------------------------------------------------------------------------
# Findings

_RESULT_WORDS = {
    "positive": "positive", "positivity": "positive", "strongly positive": "positive", "weakly positive": "positive",
    "negative": "negative", "negativity": "negative", "normal": "normal", "unremarkable": "normal",
    "within normal limits": "normal", "within normal range": "normal", "abnormal": "abnormal",
    "elevated": "raised", "raised": "raised", "high": "raised", "increased": "raised", "markedly elevated": "raised",
    "low": "decreased", "decreased": "decreased", "reduced": "decreased", "undetectable": "negative",
    "absent": "negative", "present": "positive", "detected": "positive", "not detected": "negative",
}
_RES = r"(?P<res>strongly positive|weakly positive|positive|negative|normal|unremarkable|within normal (?:limits|range)|abnormal|elevated|markedly elevated|raised|high|increased|low|decreased|reduced|undetectable|not detected|detected)"
_COPULA = re.compile(
    rf"(?:\b(?:was|were|is|are|came\s+back|returned|proved|remained)\s+(?:also\s+|again\s+|strongly\s+|found\s+(?:to\s+be\s+)?|all\s+)?){_RES}\b",
    re.I,
)
_RES_BEFORE = re.compile(rf"\b{_RES}\s+(?:for\s+|serum\s+|levels?\s+of\s+)?$", re.I)
_VALUE = re.compile(
    r"(?:\s*(?:level|levels|value|titer|titre|count)?\s*(?:of|was|were|:|=|at|to|reaching|up\s+to)?\s*)"
    r"(?P<val>(?:>|<|≥|≤)?\s*\d[\d,.]*\s*(?:x\s*10\^?\d+/L|×\s*10\d*/L|[a-zA-Zµμ/%][a-zA-Zµμ/0-9²%]*(?:/[a-zA-Z]+)?)?)",
    re.I,
)
_SHOWED = re.compile(r"\s*(?:\w+\s+){0,2}?(?:showed|revealed|demonstrated|confirmed|found|disclosed|identified|was\s+consistent\s+with|were\s+consistent\s+with|indicated)\s+(?P<res>[^.;]{3,120})", re.I)
_TREND_VERB = r"(?P<verb>decreased|increased|normali[sz]ed|fell|rose|dropped|declined|improved)"
_TREND_BEFORE = re.compile(rf"\b{_TREND_VERB}\s+(?:along\s+with|together\s+with|as\s+did|with|as\s+well\s+as)\s+(?:the\s+|her\s+|his\s+|their\s+)?(?:[\w-]+\s+){{0,2}}$", re.I)
_TREND_AFTER = re.compile(rf"^\s*(?:levels?\s+|values?\s+|concentrations?\s+)?(?:(?:had|have|has)\s+)?(?:gradually\s+|progressively\s+|rapidly\s+|markedly\s+)?{_TREND_VERB}\b", re.I)
_ANTIBODY = re.compile(r"\banti[\s-]?(?P<id>[A-Za-z]{1,6}[\s-]?\d{0,3}[A-Za-z]?(?:[\s-](?:gamma|alpha|beta|\d))?)(?:\s+antibod(?:y|ies)|\s+Abs?)?\b", re.I)
_SCREENING_HEAD = re.compile(r"\b(?:status|search|screening|work-?up|assessment|evaluation|investigations?)\b", re.I)
_TREND_VALUES = {"decreased": "decreased", "fell": "decreased", "dropped": "decreased", "declined": "decreased",
                 "increased": "raised", "rose": "raised", "normalized": "normal", "normalised": "normal", "improved": "improved"}


def _finding_name(view: TextView, mentions: Mentions, start: int, end: int) -> str | None:
    """A name for the investigation described by ``text[start:end]``."""
    text = view.text
    sub = text[start:end]
    tests = [m for m in mentions.within(start, end, "test")]
    if tests:
        t = tests[-1]
        return _antibody_name(t.surface) or written_name(t.surface)
    ab = None
    for ab in _ANTIBODY.finditer(sub):
        pass
    if ab:
        name = _antibody_name(ab.group(0))
        if name:
            return name
    diseases = mentions.within(start, end, "disease", "sign")
    if diseases and (_SCREENING_HEAD.search(sub) or re.search(r"\b(?:search|screening)\s+for\b", sub, re.I)):
        return f"{clean_name(diseases[-1].surface)} screening"
    words = re.findall(r"[A-Za-z][\w'-]*", sub)
    if _SCREENING_HEAD.search(sub) and words and len(words) <= 4:
        core = [w for w in words if not _SCREENING_HEAD.fullmatch(w) and w.lower() not in {"the", "a", "an", "of", "for", "her", "his"}]
        if core:
            return " ".join(core).lower() + " screening"
    return None


_LAB_UNIT = (
    r"(?:[x\u00d7]\s*10\s*\^?\s*[0-9\u2070-\u2079\u00b9\u00b2\u00b3]+\s*/\s*[lL]|"
    r"(?:[a-zA-Z\u00b5\u03bc]{1,6}|10\^?\d+)\s*/\s*(?:[a-zA-Z\u00b5\u03bc]{1,4}(?:\s*/\s*1\.73\s*m[2\u00b2])?|mm[3\u00b3]|\d+\s*h|24\s*h)|"
    r"%|mm\s*Hg|mmHg|bpm|beats/min|/mm[3\u00b3]|/\u00b5L|/\u03bcL|/HPF|/hpf)"
)
_LAB_VALUE = re.compile(rf"(?P<val>[<>\u2264\u2265]?\s*\d[\d,.]*(?:\s*[-\u2013]\s*\d[\d,.]*)?\s*(?P<unit>{_LAB_UNIT}))", re.I)
_DOSE_UNIT = re.compile(r"(?:mg|g|\u00b5g|\u03bcg|mcg|ug|IU|U|units?|mL|ml)\s*/\s*(?:kg|m2|m\u00b2|d|day|dose|week|wk|h|hour|month|cycle|infusion|bolus)(?![a-zA-Z])", re.I)
_NAME_LEAD = re.compile(
    r"^(?:and|with|while|whereas|but|the|a|an|her|his|their|serum|plasma|blood|initial|admission|peak|baseline|"
    r"showed|revealed|demonstrated|included|including|of|on|at|in)\s+",
    re.I,
)
_NAME_TAIL = re.compile(
    r"\s+(?:was|were|is|are|of|at|to|reached|reaching|falling(?:\s+to)?|rising(?:\s+to)?|rose\s+to|fell\s+to|dropped\s+to|decreased\s+to|increased\s+to|"
    r"improved\s+to|recovered\s+to|returned\s+to|normalised\s+to|normalized\s+to|level|levels|value|count\s+of|titre|titer|"
    r"concentration|up\s+to|above|below|by|of\s+only)$",
    re.I,
)
_NOT_FINDING_NAME = re.compile(
    r"\b(?:day|days|week|weeks|month|months|year|years|hours?|dose|doses|patient|she|he|her|his|it|they|we|that|which|who|after|before|"
    r"within|from|since|until|then|aged|age|born|gestation|weight|height|temperature|fever|ref|reference|range|normal|nv|"
    r"limit|upper|lower|cut-?off)\b",
    re.I,
)


_SCORE = re.compile(
    r"\b(?P<name>[A-Z][A-Z0-9]{2,6}|[A-Z][a-z]+(?:-[A-Z][a-z]+)?\s+(?:index|score|scale))\b\s*(?:score\s+)?(?:of|was|:|=)?\s*"
    r"(?P<val>\d+(?:\.\d+)?)\b(?!\s*(?:%|mg|g\b|\u00b5g|years?|months?|days?|weeks?|h\b|hours?|mm|cm|kg|x|\u00d7|/|times|doses?|cycles?|courses?|sessions?|patients?))"
)


def written_name(name: str) -> str:
    """A test name as written, tidied: 'Ferritin' at a sentence start -> 'ferritin'; acronyms kept."""
    name = re.sub(r"\s+", " ", name).strip(" ,;:(")
    first = name.split(" ", 1)[0]
    if re.fullmatch(r"[A-Z][a-z]{2,}", first):
        name = first.lower() + name[len(first):]
    return name


def _value_name(text: str, floor: int, pos: int, mentions: Mentions) -> tuple[str, int] | None:
    """The words naming a lab value written before ``pos`` ("C-reactive protein was | 168 mg/L")."""
    start = max(floor, _last_break(text, floor, pos), clause_start(text, pos, floor))
    for o, c in ("()", "[]"):  # "(C-reactive protein 32 mg/L", "[procalcitonin 2.1 ng/mL"
        paren = text.rfind(o, start, pos)
        if paren >= 0 and c not in text[paren:pos]:
            start = paren + 1
    chunk = text[start:pos]
    verb = None
    for verb in re.finditer(r"\b(?:showed|revealed|demonstrated|included|including|disclosed|found|with|had|has|having)\b|:", chunk, re.I):
        pass
    if verb:
        start += verb.end()
        chunk = chunk[verb.end():]
    while True:  # "Erythrocyte sedimentation rate (ESR) was" -> "Erythrocyte sedimentation rate"
        new = _NAME_TAIL.sub("", chunk.rstrip(" :=,")).rstrip(" :=,")
        new = re.sub(r"\s*\([^)]*\)\s*$", "", new)
        if new == chunk:
            break
        chunk = new
    lead = re.match(r"^\s*", chunk).end()
    chunk = chunk[lead:]
    start += lead
    while (m := _NAME_LEAD.match(chunk)) :
        chunk, start = chunk[m.end():], start + m.end()
    words = chunk.split()
    if not 1 <= len(words) <= 5 or not re.match(r"[A-Za-z]", chunk) or _NOT_FINDING_NAME.search(chunk):
        return None
    if any(m.has(*TREATMENT_KINDS) for m in mentions.within(start, start + len(chunk))):
        return None
    if re.search(r"\d", chunk) and not re.search(r"[A-Za-z]+\d|\d[A-Za-z]", chunk):
        return None
    return written_name(chunk), start


def extract_findings(view: TextView, sentences: list[Sentence], mentions: Mentions) -> list[tuple[Finding, tuple[int, int]]]:
    """Findings (one per investigation, its first result) and the analysis span each covers."""
    text = view.text
    out: list[tuple[Finding, tuple[int, int]]] = []
    names: set[str] = set()

    def add(name: str | None, result: str, s: int, e: int) -> None:
        if not name or not result:
            return
        name = re.sub(r"\s+", " ", name).strip()
        if name.lower() in names:
            for f, span in out:
                if f.name.lower() == name.lower():
                    f.evidence.append(ev(view, s, e, "finding"))
                    break
            return
        names.add(name.lower())
        out.append((Finding(name=name, result=result, evidence=[ev(view, s, e, "finding")]), (s, e)))

    for s in sentences:
        found: list[tuple[int, str, str, int, int]] = []  # (pos, name, result, s, e) in text order
        # "<test> was negative", "anti MDA 5 were positive"
        for m in _COPULA.finditer(text, s.start, s.end):
            subj_start = max(clause_start(text, m.start(), s.start), _last_break(text, s.start, m.start()))
            name = _finding_name(view, mentions, subj_start, m.start())
            if name:
                found.append((subj_start, name, _RESULT_WORDS[m.group("res").lower()], subj_start, m.end()))
        # "C-reactive protein was 168 mg/L, albumin 24 g/L and platelet count 612 x 10^9/L"
        for m in _LAB_VALUE.finditer(text, s.start, s.end):
            if m.group("unit").lower().replace(" ", "") in {"y/o", "yo"}:
                continue  # "a 24 y/o man": an age
            if _DOSE_UNIT.match(text, m.start("unit"), m.end() + 3) or re.match(r"\s*(?:daily|weekly|orally|intravenously|subcutaneously)\b", text[m.end() : m.end() + 16], re.I):
                continue
            named = _value_name(text, s.start, m.start(), mentions)
            if named:
                name, a = named
                found.append((a, _antibody_name(name) or name, source_text(view, m.start("val"), m.end("val")), a, m.end()))
        # scores without a unit: "PDAI 38", "EDSS of 7.5", "Harvey-Bradshaw index of 14"
        for m in _SCORE.finditer(text, s.start, s.end):
            if (
                not mentions.within(m.start("name"), m.end("name"), *TREATMENT_KINDS)
                and m.group("name").lower() not in {"case", "patient", "figure", "table", "day", "week", "grade", "stage", "type", "class", "phase", "step", "visit", "cycle"}
                and not re.search(r"anti[\s-]*$", text[max(s.start, m.start() - 6) : m.start()], re.I)
                and not s.text.isupper()
            ):
                found.append((m.start(), m.group("name"), m.group("val"), m.start(), m.end()))
        # "positive anti-MDA5 antibodies", "elevated creatine kinase", "MRI showed ..."
        for t in mentions.within(s.start, s.end, "test"):
            before = text[max(s.start, t.start - 30) : t.start]
            rb = _RES_BEFORE.search(before)
            name = _antibody_name(t.surface) or written_name(t.surface)
            if rb:
                found.append((t.start, name, _RESULT_WORDS[rb.group("res").lower()], t.start - len(before) + rb.start(), t.end))
            sh = _SHOWED.match(text, t.end, s.end)
            kind = t.first("test").extra
            if sh and kind in {"imaging", "biopsy", "physiology", "microbiology", "genetic", "screening"}:
                raw = text[sh.start("res") : sh.end("res")]  # analysis text: lengths are offsets
                res = _trim_result(raw)
                if res:
                    a = sh.start("res") + raw.find(res)
                    found.append((t.start, name, source_text(view, a, a + len(res)), t.start, a + len(res)))
            # "disease activity decreased along with the muscle enzyme levels", "CK levels normalized"
            tb = _TREND_BEFORE.search(text[max(s.start, t.start - 60) : t.start])
            ta = _TREND_AFTER.match(text[t.end : min(s.end, t.end + 40)])
            trend = ta or tb
            if trend:
                value = _TREND_VALUES.get(trend.group("verb").lower())
                if value:
                    a = t.start if ta else t.start - len(text[max(s.start, t.start - 60) : t.start]) + tb.start()
                    b = t.end + ta.end() if ta else t.end
                    found.append((t.start, t.first("test").canonical if ta is None and tb else name, value, a, b))
        for pos, name, result, a, b in sorted(found, key=lambda x: x[0]):
            add(name, result, a, b)
    return out


def _antibody_name(surface: str) -> str | None:
    """Antibodies are named the conventional way: 'anti MDA 5' -> 'anti-MDA5 antibodies'."""
    m = _ANTIBODY.fullmatch(surface.strip()) or _ANTIBODY.match(surface.strip())
    if not m or not surface.lower().startswith("anti"):
        return None
    ident = re.sub(r"[\s-]", "", m.group("id"))
    if not re.search(r"[A-Z0-9]", m.group("id")):
        return None  # "antinuclear antibodies" is already the usual name
    if ident.lower() in {"inflammatory", "tnf", "coagulant", "coagulation", "biotic", "biotics", "viral", "fungal"} or len(ident) < 2:
        return None
    if ident.islower() and len(ident) <= 6:
        ident = ident.upper()
    return f"anti-{ident} antibodies"


def _last_break(text: str, floor: int, pos: int) -> int:
    """Start of the noun phrase before a copula: after the last comma/'and'/'then'."""
    best = floor
    for m in re.finditer(r",|\band\b|\bthen\b|\bwhile\b|\bwhereas\b", text[floor:pos]):
        best = floor + m.end()
    return best


def _trim_result(res: str) -> str:
    res = re.split(
        r",\s*(?:and\s+)?(?:which|with|while|whereas|but|so|the|she|he)\b|\s+(?:and|but)\s+(?:the|she|he|a|an)\s"
        r"|,\s*(?:and\s+)?(?:[\w-]+\s+){1,3}(?:showed|revealed|demonstrated|confirmed|disclosed|found)\b",  # the next test's clause
        res,
    )[0]
    res = re.sub(r"^that\s+", "", res)
    words = res.split()
    if len(words) > 10:
        res = " ".join(words[:10])
    return res.strip(" ,")


# ---------------------------------------------------------------------------
# Manifestations and comorbidities


_NOT_VERB = r"(?!(?:presented|presenting|was|were|had|has|developed|complained|came|admitted|referred|underwent|received|is|who)\b)"
_INTRO_WITH = re.compile(
    rf"\b\d+(?:[.,]\d+)?[\s-]*(?:years?|yrs?|months?|weeks?|days?)[\s-]*old\s+(?:{_NOT_VERB}[\w-]+\s+){{0,3}}?with\s+"
    r"|\b(?:aged|age)\s+\d+\s+(?:years?\s+)?with\s+"
    r"|\b(?:man|woman|boy|girl|patient|male|female|child|infant|lady|gentleman)\s+(?:aged\s+\d+\s+(?:years?\s+)?|in\s+(?:his|her)\s+\d+s\s+)?with\s+",
    re.I,
)


def history_scopes(text: str, s: Sentence) -> list[tuple[int, int]]:
    """Spans listing the patient's other conditions: "history of X and Y", and the
    conditions an introduction attaches to the patient before the story starts
    ("A 67-year-old man with type 2 diabetes and CKD presented with ...")."""
    scopes = []
    for c in find_cues(text, "history", s.start, s.end):
        m = _HISTORY_END.search(text, c.end, s.end)
        scopes.append((c.start, m.start() if m else s.end))
    # "a smoking history of 10 pack years", "a known case of hypertension"
    for m in re.finditer(r"\b(?:[\w-]+\s+){1,2}(?=history\b)|\bknown\s+case\s+of\s+(?:[\w-]+\s+){1,3}", text[s.start : s.end], re.I):
        scopes.append((s.start + m.start(), s.start + m.end()))
    for m in _INTRO_WITH.finditer(text, s.start, s.end):
        end = _HISTORY_END.search(text, m.end(), s.end)
        if end:  # only when a verb follows: otherwise "with" introduces the presentation
            scopes.append((m.end(), end.start()))
    return scopes


_ADJECTIVE = re.compile(r"^(?:[a-z]+-[a-z]+|non-?[a-z]+|[a-z]{3,}(?:ous|al|ic|ive|ar|ary|ful|less|ent|ant|ile|oid|ian|atic))$")
_NOT_MODIFIER = {"presented", "developed", "showed", "revealed", "had", "with", "and", "or", "of", "the", "a", "an",
                 "general", "several", "initial", "clinical", "physical", "medical", "usual", "additional", "total",
                 "potential", "typical", "principal", "different", "frequent", "recent", "current", "present", "patient",
                 "significant", "important", "relevant", "consistent", "evident", "apparent", "dominant"}


def extend_manifestation(text: str, m: Match, floor: int, ceiling: int, body_sites: bool = True) -> tuple[int, int]:
    """Grow a manifestation over its adjectives ("bilateral non-exudative", "quotidian spiking")
    and a trailing body site ("of the elbow and hands")."""
    start, end = m.start, m.end
    modifiers = cue_words("modifier")
    for _ in range(3):
        pre = re.search(r"([A-Za-z][A-Za-z-]*)\s+$", text[floor:start])
        if not pre:
            break
        w = pre.group(1).lower()
        if w in _NOT_MODIFIER or not (w in modifiers or _ADJECTIVE.match(w)):
            break
        start = floor + pre.start(1)
    if not body_sites:
        return start, end
    sites = cue_words("body_site")
    site = r"(?:[a-z-]+\s+)?(?:" + "|".join(sorted((re.escape(x) for x in sites), key=len, reverse=True)) + r")"
    tail = re.match(rf"\s+(?:of|on|over|in|involving)\s+(?:the\s+|both\s+|her\s+|his\s+)?{site}(?:\s*(?:,|and|or)\s+(?:the\s+)?{site})*\b", text[end:ceiling], re.I)
    if tail:
        end += tail.end()
    return start, end


def extract_conditions(
    view: TextView,
    sentences: list[Sentence],
    mentions: Mentions,
    condition_keys: set[str],
    finding_spans: list[tuple[int, int]],
    cutoff: int | None = None,
) -> tuple[list[tuple[str, Evidence]], list[tuple[str, Evidence]]]:
    """(manifestations, comorbidities) as (name, evidence) pairs.

    Manifestations are read from the presentation: before ``cutoff`` (the
    first mention of the index treatment in the patient's own story); what
    happens afterwards is outcome or adverse events."""
    text = view.text
    manifestations: list[tuple[str, Evidence]] = []
    comorbidities: list[tuple[str, Evidence]] = []
    seen: set[str] = set()
    adjectives = disease_adjectives()

    for s in sentences:
        scopes = history_scopes(text, s)
        for m in mentions.within(s.start, s.end, *CONDITION_KINDS):
            entry = m.first(*CONDITION_KINDS)
            key = entry.canonical.lower()
            surface = m.surface.lower()
            if key in condition_keys or any(k in surface for k in condition_keys if len(k) > 4):
                continue
            if any(fs <= m.start < fe for fs, fe in finding_spans):
                continue
            if is_negated(text, m.start, s.start) or _EXCLUDE_BEFORE.search(text[max(s.start, m.start - 40) : m.start]):
                continue
            if re.match(r"^[\s-]*(?:negative|free)\b", text[m.end : m.end + 12], re.I):
                continue  # "HIV-negative", "seizure-free"
            if _OUTCOME_CONTEXT.search(text[max(s.start, m.start - 60) : m.start]):
                continue
            if any(surface in k for k in condition_keys):
                continue  # "myositis" inside "dermatomyositis"
            if s.section in {"results", "conclusion", "discussion"}:
                continue
            in_history = any(a <= m.start < b for a, b in scopes)
            if in_history:
                if key not in seen:
                    seen.add(key)
                    a, b = extend_manifestation(text, m, s.start, s.end, body_sites=False)
                    comorbidities.append((clean_name(text[a:b]), ev(view, a, b, "comorbidities")))
                continue
            if cutoff is not None and m.start >= cutoff:
                continue
            if _EXCLUDED_AFTER.match(text[m.end : m.end + 40]):
                continue
            a, b = extend_manifestation(text, m, s.start, s.end)
            name = clean_name(text[a:b])
            if key in seen or name in seen:
                continue
            seen.add(key)
            seen.add(name)
            manifestations.append((name, ev(view, a, b, "manifestations")))
        for w in re.finditer(r"\b[a-z-]{5,}\b", s.text.lower()):
            disease = adjectives.get(w.group())
            if disease and disease.lower() not in seen and disease.lower() not in condition_keys:
                seen.add(disease.lower())
                a = s.start + w.start()
                comorbidities.append((disease, ev(view, a, a + len(w.group()), "comorbidities")))
    return manifestations, comorbidities


# ---------------------------------------------------------------------------
# Outcome and adverse events


def extract_outcome(
    view: TextView, sentences: list[Sentence], mentions: Mentions, index: Treatment | None, treated_from: int | None = None
) -> Outcome:
    """The patient's outcome: death if stated, else the index treatment's response, else the last outcome phrase.

    The description joins the last positive statement with a negative one when
    both are present ("improvement of the skin lesions; no recovery of muscle strength").
    Before ``treated_from`` (the first treatment), "worsened" and "resolved" describe the
    illness, not the outcome.
    """
    text = view.text
    for s in sentences:
        for c in find_cues(text, "death", s.start, s.end):
            if not is_negated(text, c.start, s.start):
                a = clause_start(text, c.start, s.start)
                b = clause_end(text, c.end, s.end)
                return Outcome(status="died", description=source_text(view, a, b), evidence=[ev(view, a, b, "status")])
    statements = []
    for s in sentences:
        if s.section in {"conclusion", "discussion"}:
            continue
        for start, end, value, negated in _response_cues(text, s, mentions):
            if _effective(value, negated) and value != "died" and (treated_from is None or start >= treated_from):
                statements.append((start, end, value, negated, s))
    status = index.response if index and index.response != "not_reported" else None
    plain = [x for x in statements if _affirmative(x[2], x[3])]
    negative = [x for x in statements if not _affirmative(x[2], x[3])]
    if not statements:
        return Outcome(status=status or "not_reported")
    main = plain[-1] if plain else negative[-1]
    parts, evidence = [], []
    for st, en, value, negated, s in [main] + ([negative[-1]] if plain and negative else []):
        a = st if negated else _phrase_start(text, st, s.start)
        b = min(clause_end(text, en, s.end), _next_comma(text, en, s.end), a + 140)
        phrase = source_text(view, a, b)
        parts.append(("no " + phrase) if negated and not re.match(r"(?:no|not|without)\b", phrase, re.I) else phrase)
        evidence.append(ev(view, a, b, "status"))
    description = "; ".join(p.rstrip(" .") for p in parts)
    return Outcome(status=status or _effective(main[2], main[3]) or "not_reported", description=description, evidence=evidence)


def _next_comma(text: str, pos: int, ceiling: int) -> int:
    m = re.search(r",\s+(?!and\b|or\b)", text[pos:ceiling])
    return pos + m.start() if m else ceiling


def _phrase_start(text: str, pos: int, floor: int) -> int:
    """Include the adjectives in front of an outcome word ("impressive improvement")."""
    m = re.search(r"((?:(?<![\w'])[a-z][a-z']*\s+){0,2})$", text[max(floor, pos - 30) : pos])
    if m and m.group(1):
        words = m.group(1).split()
        keep = [w for w in words if w.lower() not in {"the", "a", "an", "with", "showed", "and", "was", "were", "in", "of", "to", "by", "resulting"}]
        if keep and keep == words[-len(keep):]:
            return pos - len(m.group(1)) + m.group(1).index(keep[0])
    return pos


_AE_AFTER_TREATMENT = re.compile(
    r"\b(?:under|on|during|after|following|while\s+on|secondary\s+to|attributed\s+to|due\s+to|caused\s+by|related\s+to)\s+"
    r"(?:the\s+)?(?:(?:first|second|third|fourth|last)\s+(?:\w+\s+)?(?:of\s+)?)?$",
    re.I,
)
_AE_VERB = re.compile(r"\b(?:was|were)\s+(?:observed|noted|seen|found|detected|reported|documented)|\b(?:occurred|developed|appeared|emerged|ensued)\b", re.I)
_AE_LINK = re.compile(
    r"\s*(?:\w+\s+){0,2}?(?:treatments?\s+|therapy\s+|infusions?\s+)?(?:was|were|is|are)\s+(?:associated\s+with|complicated\s+by|followed\s+by)\s+|"
    r"\s*(?:caused|induced|triggered|led\s+to|resulted\s+in)\s+",
    re.I,
)
_COURSE_WORD = re.compile(r"\b(?:pulse|dose|infusion|cycle|course|injection|treatment|therapy)s?\b", re.I)
_COMPLICATED = re.compile(r"\bcomplicated\s+(?:by|with)\s+", re.I)
_INDUCED = re.compile(r"[\w-]+-(?:induced|related|associated)\s+$", re.I)


def extract_adverse_events(
    view: TextView,
    sentences: list[Sentence],
    mentions: Mentions,
    condition_keys: set[str],
    treatment_spans: list[tuple[int, int]] | None = None,
) -> AdverseEvents:
    """Adverse events: 'present' when the text ties a harm to a treatment, 'none' when it
    says there were none, else 'not_reported'.

    A harm is tied to a treatment by an adverse-event word ("side effect",
    "injection-site reactions"), by "X-induced", by "complicated by/with" after a
    treatment, or by "under/after/on <treatment>" ("lymphopenia was observed under AZA")."""
    text = view.text
    spans = treatment_spans or []
    events: list[tuple[str, Evidence]] = []
    status_ev: list[Evidence] = []
    seen: set[str] = set()

    def add(m: Match, cue: tuple[int, int]) -> None:
        key = m.first(*CONDITION_KINDS).canonical.lower()
        name = clean_name(m.surface)
        if key in condition_keys or name.lower() in seen:
            return
        seen.add(name.lower())
        events.append((name, ev(view, m.start, m.end, "events")))
        status_ev.append(ev(view, *cue, "status"))

    for s in sentences:
        if s.section in {"background", "objective", "conclusion", "discussion"}:
            continue
        conditions = [m for m in mentions.within(s.start, s.end, *CONDITION_KINDS) if not is_negated(text, m.start, s.start)]
        has_treatment = any(s.start <= a < s.end for a, _ in spans) or bool(_COURSE_WORD.search(s.text))
        # "X-induced Y", "steroid-induced hyperglycaemia"
        for m in conditions:
            if _INDUCED.search(text[max(s.start, m.start - 40) : m.start]) or re.search(r"-(?:induced|related)\b", m.surface, re.I):
                add(m, (m.start, m.end))
        # "... complicated by/with X" after a treatment was named
        for c in _COMPLICATED.finditer(text, s.start, s.end):
            if has_treatment and any(a < c.start() for a, _ in spans if s.start <= a) or _COURSE_WORD.search(text[s.start : c.start()]):
                end = clause_end(text, c.end(), s.end)
                for m in conditions:
                    if c.end() <= m.start < end:
                        add(m, (c.start(), c.end()))
        # "Use of IVIG was associated with headaches", "rituximab caused neutropenia"
        for a, b in spans:
            if not s.start <= a < s.end:
                continue
            link = _AE_LINK.match(text, b, s.end)
            if link:
                ce = clause_end(text, link.end(), s.end)
                for m in conditions:
                    if link.end() <= m.start < ce:
                        add(m, (a, link.end()))
        # "X was observed under AZA", "X developed after the second infusion of Y"
        for a, b in spans:
            if not s.start <= a < s.end:
                continue
            pre = _AE_AFTER_TREATMENT.search(text[max(s.start, a - 40) : a])
            if not pre:
                continue
            cs = clause_start(text, a, s.start)
            for m in conditions:
                between = text[m.end : a - len(pre.group(0))]
                if cs <= m.start and m.end <= a and _AE_VERB.search(between) and not re.search(r"[;:]", between):
                    add(m, (m.start, b))
        # "after the second pulse he developed X"
        for c in _COURSE_WORD.finditer(text, s.start, s.end):
            pre = text[max(s.start, c.start() - 30) : c.start()]
            if re.search(r"\b(?:after|following|during)\s+(?:the\s+)?(?:\w+\s+)?$", pre, re.I):
                ce = clause_end(text, c.end(), s.end)
                for m in conditions:
                    if c.end() <= m.start < ce and re.search(r"\b(?:developed|experienced|suffered)\b", text[c.end() : m.start], re.I):
                        add(m, (c.start(), c.end()))
        # adverse-event words: "side effects: nausea", "injection-site reactions occurred"
        tests = mentions.within(s.start, s.end, "test")
        for c in find_cues(text, "ae_word", s.start, s.end):
            if is_negated(text, c.start, s.start) or c.surface.lower() in {"induced", "drug-induced"}:
                continue
            if any(t.start <= c.start and c.end <= t.end for t in tests):
                continue  # "polymerase chain reaction" is a test, not a reaction
            if c.surface.lower() in {"reaction", "reactions"} and not re.search(r"[\w-]+[\s-]+$", text[max(s.start, c.start - 20) : c.start]):
                continue
            a, b = clause_start(text, c.start, s.start), clause_end(text, c.end, s.end)
            found = [m for m in conditions if a <= m.start < b]
            for m in found:
                add(m, (c.start, c.end))
            if not found and re.search(r"\b(?:occurred|developed|observed|noted|reported|appeared|included|were|was)\b", text[c.end : b], re.I):
                # the adverse-event phrase itself names the event: "Injection-site reactions occurred"
                pa = _phrase_start(text, c.start, a)
                name = source_text(view, pa, c.end)
                if name.lower() == c.surface.lower():
                    continue  # "the reactions" names no event
                if name.lower() not in seen:
                    seen.add(name.lower())
                    events.append((clean_name(name), ev(view, pa, c.end, "events")))
                    status_ev.append(ev(view, c.start, c.end, "status"))
    if events:
        return AdverseEvents(status="present", events=[e for e, _ in events], evidence=_dedupe_evidence(status_ev + [e for _, e in events]))
    for s in sentences:
        if s.section in {"background", "objective", "discussion"}:
            continue
        for c in find_cues(text, "ae_none", s.start, s.end):
            return AdverseEvents(status="none", events=[], evidence=[ev(view, c.start, clause_end(text, c.end, s.end), "status")])
        for c in find_cues(text, "ae_word", s.start, s.end):  # "no infusion reactions were observed"
            if is_negated(text, c.start, s.start) and c.surface.lower() not in {"induced", "drug-induced"}:
                cs = clause_start(text, c.start, s.start)
                return AdverseEvents(status="none", events=[], evidence=[ev(view, cs, clause_end(text, c.end, s.end), "status")])
    return AdverseEvents()
