"""Who the report is about: patient-bearing sentences, patient blocks, demographics.

Patients are found the way a reader finds them: labelled cases ("Case 1:",
"Patient 2", "The second patient"), or several introductions ("A 45-year-old
woman ... A 30-year-old man ...") when the text announces that many, or a
single narrative. Sentences that speak about the whole group ("both
patients", "all three children") are shared by every patient. Background,
discussion and literature sentences are not patient sentences at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..layout import LABEL_START, PATIENT_KINDS, Layout, Sentence
from ..vocab import NUMBER_WORDS, SEX_NOUNS, SEX_PRONOUNS
from .mentions import cue_words

# "a patient", "both children": counted like numbers
COUNT_WORDS = {**NUMBER_WORDS, "a": 1, "an": 1, "single": 1, "both": 2}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8}
_NUM = r"(?:(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\d,.])\d{1,4}(?![\d,])|" + "|".join(k for k in COUNT_WORDS if k not in {"a", "an", "single"}) + ")"
_PERSON = (
    r"(?:patient|boy|girl|man|woman|child|infant|neonate|newborn|baby|lady|gentleman|adolescent|teenager|"
    r"toddler|female|male|student|mother|father|individual|subject|primigravida|multigravida|gravida|"
    r"caucasian|african|asian|hispanic|japanese|chinese|indian|korean|saudi|turkish|arab)"
)
# Ages: "20-year-old", "53 year old", "18-month-old", "12-day-old", "aged 45", "45 years old", "45 y/o", "53/F"
_AGE_UNIT = r"(?P<unit>years?|yrs?|y|months?|mos?|weeks?|wks?|days?)"
AGE_PATTERNS = [
    re.compile(rf"\b(?P<n>{_NUM}(?:[.,]\d+)?)(?:\s*-\s*|\s+|-)(?:{_AGE_UNIT})(?:\s*-\s*|\s+|-)old\b", re.I),
    re.compile(rf"\baged\s+(?P<n>\d{{1,3}}(?:[.,]\d+)?)(?:\s*(?:{_AGE_UNIT}))?\b", re.I),
    re.compile(rf"\b(?:age|âge)\s*[:=]?\s*(?P<n>\d{{1,3}}(?:[.,]\d+)?)\s*(?:{_AGE_UNIT})?\b(?!\s*(?:of|at)\s+onset)", re.I),
    re.compile(rf"\b(?P<n>\d{{1,3}}(?:[.,]\d+)?)\s*(?:{_AGE_UNIT})\s+of\s+age\b", re.I),
    re.compile(r"\b(?P<n>\d{1,3})\s*(?:y/o|yo|y\.o\.)(?=\W)", re.I),
    re.compile(r"(?<![\w/])(?P<n>\d{1,3})\s*(?:y(?:ears?)?\s*)?[/,]?\s*(?P<sex>[MF])(?![\w/])"),
    re.compile(r"(?<![\w/])(?P<sex>[MF])\s*[/,]\s*(?P<n>\d{1,3})(?:\s*(?:y|yrs?|years?))?(?![\w/])"),
]
ONSET_PATTERNS = [
    re.compile(r"\b(?:age|aged)\s+(?:of|at)\s+(?:disease\s+)?onset\s*(?:of|at|was|:|=)?\s*(?P<n>\d{1,3}(?:[.,]\d+)?)\s*(?P<unit>years?|yrs?|y|months?|mos?|weeks?|days?)?", re.I),
    re.compile(r"\bonset\s+(?:of\s+(?:the\s+)?(?:disease|symptoms)\s+)?(?:at|was at)\s+(?:the\s+)?(?:age\s+(?:of\s+)?)?(?P<n>\d{1,3}(?:[.,]\d+)?)\s*(?P<unit>years?|yrs?|y|months?|mos?|weeks?|days?)?", re.I),
    re.compile(r"\bdiagnosed\s+(?:with\s+[^.;]{1,60}?\s+)?at\s+(?:the\s+)?age\s+(?:of\s+)?(?P<n>\d{1,3}(?:[.,]\d+)?)\s*(?P<unit>years?|yrs?|y|months?|mos?|weeks?|days?)?", re.I),
    re.compile(r"\bsince\s+(?:the\s+)?age\s+(?:of\s+)?(?P<n>\d{1,3}(?:[.,]\d+)?)\s*(?P<unit>years?|yrs?|y|months?|mos?|weeks?|days?)?", re.I),
]
_LABEL_INSIDE = re.compile(r"\b(?:in|for|of)\s+(?P<label>(?:case|patient)\s*(?P<id>\d{1,2}))\b", re.I)
_ORDINAL_START = re.compile(
    rf"^\W{{0,3}}(?:in\s+)?(?:the\s+)?(?P<ord>{'|'.join(ORDINALS)})(?:\s+(?:patient|case|child|one|boy|girl|man|woman|sibling|twin|infant|brother|sister)\b|\s*,)",
    re.I,
)
_ANCHOR = re.compile(
    rf"\b\d+(?:[.,]\d+)?[\s-]*(?:year|yr|month|week|day)s?[\s-]*old\b|\baged\s+\d|"
    rf"\b(?:our|the|this|a|an)\s+(?:[\w/-]+\s+){{0,3}}?{_PERSON}s?\b|\b(?:case|patient)\s*\d|\b(?:she|he|her|his|him)\b|"
    rf"\b\d{{1,3}}\s*(?:y/o|yo|y\.o\.)(?=\W)",
    re.I,
)
_INTRO = re.compile(
    rf"(?:^|\b(?:a|an|the)\s+)(?:[\w-]+\s+){{0,2}}?\d+(?:[.,]\d+)?(?:[\s-]*(?:year|yr|month|week|day)s?[\s-]*old\b|\s*(?:y/o|yo)\b)|"
    rf"\b(?:a|an)\s+(?:[\w-]+\s+){{0,3}}?{_PERSON}\s+(?:aged|of)\s+\d",
    re.I,
)
_GROUP = re.compile(
    rf"\b(?:(?:all|both|none|each|neither|either)\s+(?:of\s+)?(?:the\s+|our\s+|these\s+)?(?:{_NUM}\s+)?(?:\w+\s+)?(?:patients|cases|children|of them|subjects|infants|girls|boys|siblings)|"
    rf"(?:both|all)\s+(?:{_NUM}\s+)?(?:patients|cases|children|siblings|twins)|"
    rf"(?:the|our|these|our\s+{_NUM}|the\s+{_NUM})\s+(?:\w+\s+)?(?:patients|children|cases|siblings|twins|infants)|"
    rf"^\W*{_NUM}\s+(?:[\w-]+\s+){{0,3}}?(?:patients|children|cases|adults|women|men|boys|girls|infants|siblings))\b",
    re.I,
)
_COUNT = re.compile(
    rf"\b(?P<n>{_NUM}|both)\s+(?:(?:[\w-]+|\(\w+\))\s+){{0,4}}?(?P<noun>patients|cases|children|adults|women|men|boys|girls|infants|neonates|newborns|siblings|sisters|brothers|twins|adolescents)\b(?!\s+(?:of|with\s+similar))",
    re.I,
)
_STUDY_INTRO = re.compile(r"\b(?:we|our|this|these|here(?:in)?|present(?:ed)?|report(?:ed)?|describe[ds]?)\b", re.I)
_LITERATURE = re.compile(
    r"\b(?:literature|previously\s+(?:reported|described|published)|published|reported\s+(?:so\s+far|to\s+date)|"
    r"(?:systematic\s+)?review(?:ed)?\s+(?:of|the)|meta-analys)",
    re.I,
)


@dataclass
class PatientBlock:
    label: str
    own: list[Sentence] = field(default_factory=list)
    label_span: tuple[int, int] | None = None

    def sentences(self, shared: list[Sentence]) -> list[Sentence]:
        return sorted(self.own + shared, key=lambda s: s.start)


@dataclass
class Cohort:
    """The result of patient segmentation."""

    blocks: list[PatientBlock]
    shared: list[Sentence]
    n_stated: int | None
    n_span: tuple[int, int] | None
    narrative: list[Sentence]  # every patient-bearing sentence


def number_value(word: str) -> int | None:
    w = word.lower().replace(",", "")
    if w.isdigit():
        return int(w)
    return COUNT_WORDS.get(w)


def _starts_discussion(s: Sentence) -> bool:
    head = s.text[:40].lower()
    return any(head.startswith(c) or head.startswith("however, " + c) for c in cue_words("discussion"))


def narrative_sentences(layout: Layout) -> list[Sentence]:
    """Sentences that may describe the reported patients, in order."""
    out: list[Sentence] = []
    for sec in layout.sections:
        if sec.kind not in PATIENT_KINDS:
            continue
        started = sec.kind in {"case", "results"}
        for s in sec.sentences:
            if _starts_discussion(s):
                break
            if not started:
                if _ANCHOR.search(s.text) or LABEL_START.match(s.text) or _GROUP.search(s.text):
                    started = True
                else:
                    continue
            if _LITERATURE.search(s.text) and not (_ANCHOR.search(s.text) or _GROUP.search(s.text)):
                continue
            out.append(s)
    return out


def label_of(s: Sentence) -> tuple[str, tuple[int, int]] | None:
    m = LABEL_START.match(s.text)
    if m and m.group("short"):
        return re.sub(r"\s", "", m.group("short")).upper(), (s.start + m.start("short"), s.start + m.end("short"))
    if m:
        word = m.group("label")
        kind = re.match(r"[A-Za-z]+", word).group(0).lower()
        kind = {"pt": "patient", "observation": "case", "subject": "patient"}.get(kind, kind)
        ident = m.group("id")
        n = number_value(ident)
        ident = str(n) if n else ident.upper()
        return f"{kind.capitalize()} {ident}", (s.start + m.start("label"), s.start + m.end("label"))
    m = _ORDINAL_START.match(s.text)
    if m:
        return f"Patient {ORDINALS[m.group('ord').lower()]}", (s.start + m.start("ord"), s.start + m.end(0))
    return None


def stated_count(layout: Layout) -> tuple[int | None, tuple[int, int] | None]:
    """How many patients the text says it reports ("we describe 2 patients")."""
    candidates: list[tuple[int, int, tuple[int, int]]] = []
    for sec in layout.sections:
        if sec.kind not in {"background", "objective", "case", "methods", "results", "body"}:
            continue
        for s in sec.sentences:
            if _LITERATURE.search(s.text) and not re.search(r"\b(?:we|our)\b", s.text, re.I):
                continue
            intro = bool(_STUDY_INTRO.search(s.text)) or sec.kind in {"case", "methods", "body", "results"}
            for m in _COUNT.finditer(s.text):
                n = number_value(m.group("n")) if m.group("n").lower() != "both" else 2
                if not n or not intro:
                    continue
                pre = s.text[max(0, m.start() - 12) : m.start()].lower()
                if re.search(r"(?:of|in|among)\s+(?:the\s+)?$", pre) and not re.search(r"\b(?:we|our)\b", s.text, re.I):
                    continue
                rank = 0 if re.search(r"\b(?:we|our|here)\b", s.text, re.I) else 1
                candidates.append((rank, s.start + m.start(), (s.start + m.start("n"), s.start + m.end("n"))))
    if candidates:
        candidates.sort()
        rank, pos, span = candidates[0]
        word = layout.text[span[0] : span[1]]
        return (2 if word.lower() == "both" else number_value(word)), span
    return None, None


def segment(layout: Layout, aggregate: bool = False) -> Cohort:
    """Split the narrative into patients. ``aggregate``: the report is a review/trial/cohort,
    so only explicitly labelled cases become individual patients."""
    narrative = narrative_sentences(layout)
    n_stated, n_span = stated_count(layout)

    labelled = [(s, label_of(s)) for s in narrative]
    labels: list[str] = []
    for _, lab in labelled:
        if lab and lab[0] not in labels:
            labels.append(lab[0])

    blocks: dict[str, PatientBlock] = {}
    shared: list[Sentence] = []
    if len(labels) >= 2 or (labels and n_stated in (None, 1)):
        current: PatientBlock | None = None
        current_section = None
        for s, lab in labelled:
            if lab:
                current = blocks.setdefault(lab[0], PatientBlock(lab[0], label_span=lab[1]))
                current.own.append(s)
                current_section = s.section
                continue
            inside = _LABEL_INSIDE.search(s.text)
            if inside:
                key = f"{inside.group('label').split()[0].capitalize()} {inside.group('id')}"
                if key in blocks:
                    blocks[key].own.append(s)
                    continue
            if _GROUP.search(s.text) or current is None or s.section != current_section:
                shared.append(s)
                current = None if _GROUP.search(s.text) else current
                continue
            current.own.append(s)
        ordered = [blocks[l] for l in labels]
        return Cohort(ordered, shared, n_stated or len(ordered), n_span, narrative)

    if aggregate:
        return Cohort([], narrative, n_stated, n_span, narrative)
    intros = [s for s in narrative if _INTRO.search(s.text) and not _GROUP.search(s.text)]
    if n_stated and n_stated >= 2 and len(intros) == n_stated:
        out: list[PatientBlock] = []
        current = None
        for s in narrative:
            if s in intros:
                current = PatientBlock(f"Patient {len(out) + 1}")
                out.append(current)
                current.own.append(s)
            elif current is None or _GROUP.search(s.text):
                shared.append(s)
            else:
                current.own.append(s)
        return Cohort(out, shared, n_stated, n_span, narrative)

    if n_stated and n_stated >= 2:
        if n_stated > 10:
            return Cohort([], narrative, n_stated, n_span, narrative)
        return Cohort([PatientBlock(f"Patient {i + 1}") for i in range(n_stated)], narrative, n_stated, n_span, narrative)

    if narrative:
        return Cohort([PatientBlock("Patient 1", own=list(narrative))], [], 1, n_span, narrative)
    return Cohort([], [], n_stated, n_span, narrative)


# ---------------------------------------------------------------------------
# Demographics


def _years(value: str, unit: str | None) -> float:
    v = float(value.replace(",", ".")) if value[0].isdigit() else float(number_value(value) or 0)
    u = (unit or "y").lower()
    if u.startswith("mo"):
        v = v / 12
    elif u.startswith("w"):
        v = v * 7 / 365.25
    elif u.startswith("d"):
        v = v / 365.25
    return round(v, 2)


def _about_other_person(text: str, end: int) -> bool:
    after = text[end : end + 30].lower()
    words = re.findall(r"[a-z]+", after)[:3]
    return any(w in cue_words("other_person") for w in words)


def _in_onset_context(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start].lower()
    return bool(re.search(r"(?:onset|since|diagnosed|at the age of|at age|history|began|started|first)\W+(?:\w+\W+){0,4}$", before))


def find_age(sentences: list[Sentence]) -> tuple[float, tuple[int, int]] | None:
    for s in sentences:
        for pat in AGE_PATTERNS:
            for m in pat.finditer(s.text):
                if _in_onset_context(s.text, m.start()) or _about_other_person(s.text, m.end()):
                    continue
                unit = m.groupdict().get("unit")
                value = _years(m.group("n"), unit)
                if 0 <= value <= 120:
                    return value, (s.start + m.start(), s.start + m.end())
    return None


def find_onset(sentences: list[Sentence]) -> tuple[float, tuple[int, int]] | None:
    for s in sentences:
        for pat in ONSET_PATTERNS:
            m = pat.search(s.text)
            if m:
                value = _years(m.group("n"), m.groupdict().get("unit"))
                if 0 <= value <= 120:
                    return value, (s.start + m.start(), s.start + m.end())
    return None





def find_sex(own: list[Sentence], label_span: tuple[int, int] | None = None) -> tuple[str, tuple[int, int]] | None:
    """Sex from explicit cues only: a noun describing the patient, M/F notation, or pronouns."""
    for s in own:
        for pat in AGE_PATTERNS[-2:]:
            m = pat.search(s.text)
            if m and m.group("sex"):
                return ("female" if m.group("sex") == "F" else "male"), (s.start + m.start("sex"), s.start + m.end("sex"))
        # a sex noun right after an age phrase or an article: "11 year old boy", "a woman", "a male"
        hits = []
        for sex, nouns in SEX_NOUNS.items():
            noun_re = "|".join(nouns[:6])
            for m in re.finditer(
                rf"(?:\bold\s+|\b(?:a|an|the|our|this|young|elderly|old|previously\s+healthy)\s+(?:[\w-]+\s+){{0,3}}?)(?P<w>{noun_re})\b(?!'s)",
                s.text,
                re.I,
            ):
                before = s.text[max(0, m.start() - 25) : m.start()].lower()
                if any(w in cue_words("other_person") for w in re.findall(r"[a-z]+", before)[-3:]):
                    continue  # "one sibling, a girl, died"
                hits.append((m.start("w"), sex, m))
        if hits:
            _, sex, m = min(hits, key=lambda h: h[0])
            return sex, (s.start + m.start("w"), s.start + m.end("w"))
    counts = {"female": [], "male": []}
    for s in own:
        for sex, words in SEX_PRONOUNS.items():
            for m in re.finditer(rf"\b(?:{'|'.join(words)})\b", s.text, re.I):
                # "her mother", "his father" speak of the patient; "she" may be a relative in
                # a sentence about one, so skip sentences that name a relative as subject.
                counts[sex].append((s.start + m.start(), s.start + m.end()))
    f, m_ = len(counts["female"]), len(counts["male"])
    if f and f >= 2 * m_:
        return "female", counts["female"][0]
    if m_ and m_ >= 2 * f:
        return "male", counts["male"][0]
    return None
