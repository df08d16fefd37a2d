"""A normalised view of the source text that maps every position back to it.

Real input is noisy: non-breaking and thin spaces, curly quotes, several kinds
of dashes, soft hyphens, words hyphenated across PDF line breaks, ligatures.
``TextView`` builds an *analysis string* in which these are normalised, and
keeps, for every analysis character, the index of the source character it came
from. Extractors search the analysis string and convert spans back with
``source_span``, so every quote they emit is an exact slice of the source.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left

# Characters replaced one-for-one in the analysis string.
_SUBSTITUTE = {
    "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ",
    "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ",
    "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ",
    "\t": " ", "\v": " ", "\f": "\n", "\r": " ", "\u2028": "\n", "\u2029": "\n",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2022": "\u2022",  # bullets are kept: the layout parser uses them
    "\u00b5": "\u03bc",  # micro sign -> greek mu
}
# Characters dropped from the analysis string.
_DROP = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
# Characters expanded to several analysis characters.
_EXPAND = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\u2026": "..."}

_TABLE = str.maketrans(_SUBSTITUTE)
_SPECIAL = re.compile("[" + "".join(sorted(_DROP | set(_EXPAND))) + "]")
_SOFT_BREAK = re.compile(r"(?<=[a-z])-[ \t]*\r?\n[ \t]*(?=[a-z])")
# Prefixes that authors (and PDF copies) split from their word: "intra venous",
# "para neoplastic", "immuno globulins". The space is dropped in the analysis
# string, so "INTRA VENOUS" reads as "INTRAVENOUS".
_SPLIT_PREFIX = re.compile(
    r"\b(?:intra|infra|supra|peri|para|immuno|cortico|sub|hypo|hyper|auto|anti)(?= (?:venous|cutaneous|muscular|lesional|thecal|"
    r"articular|neoplastic|globulins?|steroids?|therapy|acute|clinical|immune|inflammatory|bodies|body|glycemia|tension|thyroidism))",
    re.I,
)


class TextView:
    """The source text plus a normalised analysis string with an offset map."""

    def __init__(self, source: str):
        self.source = source
        # Edits that change lengths: words split by a hyphen at a line break
        # ("immuno-\nglobulins") or a space after a split prefix ("intra venous")
        # are joined; invisible characters are dropped; ligatures expanded.
        # Everything else is a one-for-one substitution (str.translate).
        edits: list[tuple[int, int, str]] = []  # (source start, source end, replacement)
        edits += [(m.start(), m.end(), "") for m in _SOFT_BREAK.finditer(source)]
        edits += [(m.end(), m.end() + 1, "") for m in _SPLIT_PREFIX.finditer(source)]
        if _SPECIAL.search(source):
            edits += [(m.start(), m.end(), _EXPAND.get(m.group(), "")) for m in _SPECIAL.finditer(source)]
        if not edits:
            # the common case: the analysis string has the source's offsets
            self.text = source.translate(_TABLE)
            self._origin = None
        else:
            pieces: list[str] = []
            origin = array("l")
            pos = 0
            for start, end, repl in sorted(edits):
                if start < pos:
                    continue  # overlapping edits: the first one wins
                pieces.append(source[pos:start])
                origin.extend(range(pos, start))
                pieces.append(repl)
                origin.extend([start] * len(repl))
                pos = end
            pieces.append(source[pos:])
            origin.extend(range(pos, len(source)))
            self.text = "".join(pieces).translate(_TABLE)
            self._origin = origin
        self.lower = self.text.lower()

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Convert an analysis span into the source span it covers."""
        if self._origin is None:
            return start, max(start, end)
        if end <= start:
            pos = self._origin[start] if start < len(self._origin) else len(self.source)
            return pos, pos
        return self._origin[start], self._origin[end - 1] + 1

    def quote(self, start: int, end: int) -> tuple[str, int, int]:
        """``(source_quote, source_start, source_end)`` for an analysis span."""
        s, e = self.source_span(start, end)
        return self.source[s:e], s, e

    def analysis_index(self, source_index: int) -> int:
        """The first analysis position at or after a source position."""
        if self._origin is None:
            return source_index
        return bisect_left(self._origin, source_index)
