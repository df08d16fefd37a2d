"""Clinical mentions and linguistic cues found in a document.

A *mention* is a vocabulary term found in the analysis text (a drug, a drug
class, a procedure, a disease, a sign, a manifestation, a test), with its
offsets. Abbreviations the document defines itself ("juvenile
dermatomyositis (JDM)") are learnt and their later uses become mentions too.
*Cues* are the phrases of ``data/cues.tsv`` (responses, negations, routes...).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..vocab import Entry, Lexicon, Match, clinical_lexicon, read_tsv, tokens

TREATMENT_KINDS = ("drug", "drug_class", "procedure")
CONDITION_KINDS = ("disease", "sign", "manifestation")

_CLAUSE_BREAK = re.compile(r"(?<!\d)\.(?!\d)|[;!?]|(?<!\d):(?!\d)|\bbut\b|\bhowever\b|\balthough\b|\bwhereas\b|\bthen\b|\bexcept\b", re.I)


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    kind: str
    value: str
    surface: str


@functools.lru_cache(maxsize=1)
def _cue_rows() -> list[dict[str, str]]:
    return read_tsv("cues.tsv")


@functools.lru_cache(maxsize=None)
def cue_lexicons() -> dict[str, Lexicon]:
    out: dict[str, Lexicon] = {}
    for row in _cue_rows():
        lex = out.setdefault(row["kind"], Lexicon())
        lex.add(row["cue"], Entry("cue", row.get("value", ""), row["kind"]))
    return out


@functools.lru_cache(maxsize=None)
def cue_words(kind: str) -> frozenset[str]:
    return frozenset(r["cue"].lower() for r in _cue_rows() if r["kind"] == kind)


def find_cues(text: str, kind: str, start: int = 0, end: int | None = None) -> list[Cue]:
    end = len(text) if end is None else end
    lex = cue_lexicons().get(kind)
    if lex is None:
        return []
    return [
        Cue(m.start, m.end, kind, m.entries[0].canonical, m.surface)
        for m in lex.find(text[start:end], base=start)
    ]


def clause_start(text: str, pos: int, floor: int = 0) -> int:
    """Start of the clause that contains ``pos`` (not before ``floor``)."""
    best = floor
    for m in _CLAUSE_BREAK.finditer(text, floor, pos):
        best = m.end()
    return best


def clause_end(text: str, pos: int, ceiling: int) -> int:
    m = _CLAUSE_BREAK.search(text, pos, ceiling)
    return m.start() if m else ceiling


_LIST_VERB = re.compile(
    r"\b(?:was|were|is|are|had|has|have|developed|showed|revealed|presented|received|started|noted|found|became|worsened|improved|but|however|although)\b",
    re.I,
)


def is_negated(text: str, start: int, floor: int = 0, window: int = 6) -> bool:
    """True when a negation cue governs the phrase starting at ``start``: within a few
    words before it, or at the head of the list it belongs to ("He did not
    experience fevers, chills, night sweats, ... or hematuria")."""
    cs = clause_start(text, start, floor)
    before = text[cs:start]
    toks = tokens(before)[-window:]
    if not toks:
        return False
    if find_cues(text, "negation", cs + toks[0][1], start):
        return True
    for c in find_cues(text, "negation", cs, start):
        between = text[c.end : start]
        if "," in between and not _LIST_VERB.search(between):
            return True
    return False


class Mentions:
    """All clinical mentions of one document, in text order."""

    def __init__(self, text: str):
        self.text = text
        lex = clinical_lexicon()
        matches = lex.find(text)
        local = self._local_abbreviations(text, matches)
        local_spans = {(m.start, m.end) for m in local}
        # an abbreviation the document defines wins over the global list ("PV" = pemphigus vulgaris here)
        matches = [m for m in matches if (m.start, m.end) not in local_spans] + local
        matches.sort(key=lambda m: (m.start, -m.end))
        # drop matches nested in a longer one (abbreviation uses can overlap)
        kept: list[Match] = []
        for m in matches:
            if kept and m.start < kept[-1].end:
                continue
            kept.append(m)
        self.matches = kept

    @staticmethod
    def _local_abbreviations(text: str, matches: list[Match]) -> list[Match]:
        """Learn "long form (ABBR)" definitions and return the later uses of ABBR."""
        defined: dict[str, tuple[Entry, ...]] = {}
        for m in matches:
            after = re.match(r"\s*\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*[),;]", text[m.end : m.end + 16])
            if not after:
                continue
            abbr = after.group(1)
            if sum(c.isupper() for c in abbr) < 2 or abbr.lower() == m.surface.lower():
                continue
            initials = "".join(t[0] for t, _, _ in tokens(m.surface)).lower()
            if abbr[0].lower() not in initials:
                continue
            defined.setdefault(abbr, m.entries)
        out = []
        for abbr, entries in defined.items():
            for occ in re.finditer(rf"(?<![\w-]){re.escape(abbr)}(?![\w])", text):
                out.append(Match(occ.start(), occ.end(), entries, occ.group()))
        return out

    def within(self, start: int, end: int, *kinds: str) -> list[Match]:
        return [m for m in self.matches if m.start >= start and m.end <= end and (not kinds or m.has(*kinds))]
