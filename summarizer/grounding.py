"""Grounding: aligning quotes to the source text and checking evidence offsets.

``align(quote, text)`` finds where a quote occurs:

1. exactly (``text.find``), preferring an occurrence at a given hint offset;
2. after normalising both sides (case, whitespace incl. non-breaking spaces,
   curly quotes, dashes, soft hyphens) -- the span is snapped back to the
   exact source characters;
3. fuzzily: rapidfuzz's best partial alignment, accepted only when enough of
   the quote's words are covered by the source span (a langextract-style
   token-coverage threshold), then snapped to whole words.

Steps 2 and 3 report ``alignment="fuzzy"``. Every aligned evidence item
satisfies ``text[start:end] == quote`` afterwards, because the quote is
replaced by the source slice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from .models import CaseSummary, Evidence
from .textview import TextView
from .vocab import NUMBER_WORDS

TOKEN_COVERAGE = 0.8
PARTIAL_SCORE = 85.0
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Alignment:
    start: int
    end: int
    kind: str  # "exact" | "fuzzy"


class _Normalised:
    """Lower-cased, whitespace-collapsed view of a text with an offset map."""

    def __init__(self, text: str):
        view = TextView(text)
        chars, origin = [], []
        prev_space = True
        for i, ch in enumerate(view.text):
            c = ch.lower()
            if c.isspace():
                if prev_space:
                    continue
                c = " "
                prev_space = True
            else:
                prev_space = False
            chars.append(c)
            origin.append(i)
        self.view = view
        self.text = "".join(chars)
        self.origin = origin

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        a = self.origin[start]
        b = self.origin[end - 1] + 1
        return self.view.source_span(a, b)


def _norm_quote(quote: str) -> str:
    return _Normalised(quote).text.strip()


def align(quote: str, text: str, hint: int | None = None, _cache: dict | None = None) -> Alignment | None:
    if not quote or not quote.strip():
        return None
    if hint is not None and 0 <= hint and text[hint : hint + len(quote)] == quote:
        return Alignment(hint, hint + len(quote), "exact")
    i = text.find(quote)
    if i >= 0:
        return Alignment(i, i + len(quote), "exact")
    norm = (_cache or {}).get("norm") or _Normalised(text)
    if _cache is not None:
        _cache["norm"] = norm
    q = _norm_quote(quote)
    if not q:
        return None
    j = norm.text.find(q)
    if j >= 0:
        s, e = norm.source_span(j, j + len(q))
        return Alignment(s, e, "fuzzy")
    return _fuzzy(q, norm)


def _fuzzy(q: str, norm: _Normalised) -> Alignment | None:
    if len(q) < 4:
        return None
    res = fuzz.partial_ratio_alignment(q, norm.text, score_cutoff=PARTIAL_SCORE)
    if res is None:
        return None
    a, b = res.dest_start, res.dest_end
    # snap to whole words
    while a > 0 and norm.text[a - 1].isalnum():
        a -= 1
    while b < len(norm.text) and norm.text[b].isalnum():
        b += 1
    span_words = _WORD.findall(norm.text[a:b])
    quote_words = _WORD.findall(q)
    if not quote_words or not span_words:
        return None
    remaining = list(span_words)
    covered = 0
    for w in quote_words:
        if w in remaining:
            remaining.remove(w)
            covered += 1
    if covered / len(quote_words) < TOKEN_COVERAGE or len(span_words) > 2 * len(quote_words) + 2:
        return None
    s, e = norm.source_span(a, b)
    return Alignment(s, e, "fuzzy")


def numbers_in(text: str) -> list[str]:
    """The numbers written in digits, as written ("12", "2.5", "2,5")."""
    return re.findall(r"\d+(?:[.,]\d+)?", text)


def source_numbers(source: str) -> set[str]:
    """Every number the source states, in digits or words ("three" -> "3", "both" -> "2");
    decimal commas read as points."""
    nums = {n.replace(",", ".") for n in numbers_in(source)}
    for w, v in {**NUMBER_WORDS, "both": 2}.items():
        if re.search(rf"\b{w}\b", source, re.I):
            nums.add(str(v))
    return nums


def holds(e: Evidence, text: str) -> bool:
    """True when the evidence quote is exactly ``text[start:end]``."""
    return 0 <= e.start <= e.end <= len(text) and text[e.start : e.end] == e.quote


def check_offsets(summary: CaseSummary, text: str) -> list[str]:
    """Problems with evidence offsets (empty when every quote equals ``text[start:end]``)."""
    return [f"{where}: quote {e.quote!r} is not text[{e.start}:{e.end}]" for where, e in summary.evidence_items() if not holds(e, text)]


def drop_bad_evidence(summary: CaseSummary, text: str) -> None:
    """Remove every evidence item whose quote is not the source slice it claims."""
    for _, owner in summary.evidence_owners():
        owner.evidence = [e for e in owner.evidence if holds(e, text)]
