"""Vocabularies (data files in ``summarizer/data``) and matching them in text.

Terms are matched on *folded tokens*: lower case, letters and digits split
apart ("MDA5" -> "mda", "5"), British spellings folded ("oedema" -> "edema")
and plural endings dropped, so "anti MDA 5", "anti-MDA5" and "Anti-MDA-5"
all meet the same entry. Abbreviations are matched on their written case.
Matching is greedy longest-first, so "juvenile dermatomyositis" wins over
"dermatomyositis".
"""

from __future__ import annotations

import csv
import functools
import gc
import hashlib
import marshal
import os
import sys
import tempfile
import importlib.resources
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

TOKEN = re.compile(r"[^\W\d_]+|\d+")

# Words that state a patient's sex (the offline extractor reads them; the LLM
# path requires a quote containing one before it keeps a sex).
SEX_NOUNS = {
    "female": ("woman", "women", "girl", "girls", "female", "lady", "mother", "wife", "daughter", "sister",
               "primigravida", "multigravida", "gravida", "housewife", "schoolgirl", "grandmother", "mrs", "ms"),
    "male": ("man", "men", "boy", "boys", "male", "gentleman", "father", "husband", "son", "brother",
             "schoolboy", "grandfather", "mr"),
}
SEX_PRONOUNS = {"female": ("she", "her", "hers", "herself"), "male": ("he", "his", "him", "himself")}
# Numbers written as words.
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
}


class Entry(NamedTuple):
    """A vocabulary entry: what a term is (kind) and what it stands for."""

    kind: str  # drug, drug_class, procedure, disease, sign, manifestation, test
    canonical: str
    extra: str = ""


@dataclass(frozen=True)
class Match:
    start: int  # analysis-text offsets
    end: int
    entries: tuple[Entry, ...]
    surface: str

    def has(self, *kinds: str) -> bool:
        return any(e.kind in kinds for e in self.entries)

    def first(self, *kinds: str) -> Entry | None:
        for e in self.entries:
            if e.kind in kinds:
                return e
        return None


def _strip_accents(t: str) -> str:
    if t.isascii():
        return t
    return "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))


def fold(token: str) -> str:
    t = _strip_accents(token.lower())
    if len(t) >= 5:
        t = t.replace("ae", "e").replace("oe", "e")
        if t.endswith("our") and len(t) >= 6:
            t = t[:-3] + "or"
    if len(t) > 4 and t.endswith("ies"):
        t = t[:-3] + "y"
    elif len(t) > 3 and t.endswith("s") and not t.endswith(("ss", "us", "is", "ys")):
        t = t[:-1]
    return t


def tokens(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` for every letter run and digit run."""
    return [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def fold_key(term: str) -> tuple[str, ...]:
    return tuple(fold(t) for t, _, _ in tokens(term))


def read_tsv(name: str) -> list[dict[str, str]]:
    """Rows of a data file as dicts (header row first; ``#`` lines are comments)."""
    text = importlib.resources.files("summarizer.data").joinpath(name).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [
        {k: (v or "").strip() for k, v in row.items() if k}
        for row in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    ]


_SEP = "\x1f"


class Lexicon:
    """Folded multi-word terms -> entries, matched greedily longest-first.

    Keys are the folded tokens joined by a separator; values index a table of
    interned entry groups, so the whole lexicon is plain data that ``marshal``
    saves and loads quickly (see ``clinical_lexicon``)."""

    def __init__(self) -> None:
        self._terms: dict[str, int] = {}
        self._cased: dict[str, int] = {}
        self._groups: list[tuple[Entry, ...]] = [()]
        self._group_ids: dict[tuple[Entry, ...], int] = {(): 0}
        self._max = 1

    def add(self, term: str, entry: Entry, *, cased: bool = False) -> None:
        parts = [t for t, _, _ in tokens(term)] if cased else list(fold_key(term))
        if not parts:
            return
        table = self._cased if cased else self._terms
        key = _SEP.join(parts)
        group = self._groups[table.get(key, 0)]
        if entry in group:
            return
        group = group + (Entry(*entry),)
        gid = self._group_ids.get(group)
        if gid is None:
            gid = self._group_ids[group] = len(self._groups)
            self._groups.append(group)
        table[key] = gid
        self._max = max(self._max, len(parts))

    def _entries(self, raw: list[str], folded: list[str]) -> tuple[Entry, ...]:
        groups = self._groups
        return groups[self._cased.get(_SEP.join(raw), 0)] + groups[self._terms.get(_SEP.join(folded), 0)]

    def find(self, text: str, base: int = 0) -> list[Match]:
        toks = tokens(text)
        folded = [fold(t) for t, _, _ in toks]
        raw = [t for t, _, _ in toks]
        out: list[Match] = []
        i, n = 0, len(toks)
        while i < n:
            hit = None
            for j in range(min(n, i + self._max), i, -1):
                # Tokens of one term must be adjacent: only spaces, hyphens,
                # slashes or apostrophes between them.
                if j - i > 1 and not _adjacent(text, toks, i, j):
                    continue
                entries = self._entries(raw[i:j], folded[i:j])
                if entries:
                    hit = (j, entries)
                    break
            if hit and hit[0] - i == 1 and len(raw[i]) <= 4 and _glued(toks, i, hit[0]):
                hit = None  # "CD" in "CD20", "IL" in "IL6": part of a longer identifier
            if hit:
                j, entries = hit
                s, e = toks[i][1], toks[j - 1][2]
                out.append(Match(base + s, base + e, entries, text[s:e]))
                i = j
            else:
                i += 1
        return out

    def is_cased_abbreviation(self, word: str) -> bool:
        return _SEP.join(t for t, _, _ in tokens(word)) in self._cased

    def lookup(self, term: str) -> list[Entry]:
        return list(self._groups[self._terms.get(_SEP.join(fold_key(term)), 0)])

    def __contains__(self, term: str) -> bool:
        return _SEP.join(fold_key(term)) in self._terms

    # -- a compact, fast-loading form --------------------------------------
    def dumps(self) -> bytes:
        groups = tuple(tuple(tuple(e) for e in g) for g in self._groups)
        return marshal.dumps((1, self._max, self._terms, self._cased, groups))

    @classmethod
    def loads(cls, data: bytes) -> "Lexicon":
        version, mx, terms, cased, groups = marshal.loads(data)
        if version != 1:
            raise ValueError("unknown lexicon cache version")
        lex = cls()
        lex._max, lex._terms, lex._cased = mx, terms, cased
        lex._groups = [tuple(Entry(*e) for e in g) for g in groups]
        lex._group_ids = {}
        return lex


def _glued(toks, i: int, j: int) -> bool:
    """True when tokens i..j touch a letter or digit run on either side."""
    return (i > 0 and toks[i - 1][2] == toks[i][1]) or (j < len(toks) and toks[j - 1][2] == toks[j][1])


def _adjacent(text: str, toks, i: int, j: int) -> bool:
    for k in range(i, j - 1):
        gap = text[toks[k][2] : toks[k + 1][1]]
        if len(gap) > 2 or any(c not in " -/'\n" for c in gap):
            return False
    return True


# ---------------------------------------------------------------------------
# The project's vocabularies


@functools.lru_cache(maxsize=1)
def vocabulary_sha256() -> str:
    """One hash over the data files, so a vocabulary change shows in every output."""
    h = hashlib.sha256()
    root = importlib.resources.files("summarizer.data")
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".tsv", ".txt")):
            h.update(entry.name.encode())
            h.update(entry.read_bytes())
    return h.hexdigest()


def _lexicon_cache_path() -> str:
    from .config import default_cache_path

    tag = f"{vocabulary_sha256()[:16]}-py{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(os.path.dirname(default_cache_path()), f"lexicon-{tag}.marshal")


@functools.lru_cache(maxsize=None)
def clinical_lexicon() -> Lexicon:
    """Drugs, drug classes, procedures, diseases, signs, manifestations and tests.

    Building it from the TSV files takes about half a second, so the built
    lexicon is kept in the user's cache folder (keyed by the data files'
    hash) and loaded from there on later runs. A cache that cannot be read or
    written is simply rebuilt."""
    path = _lexicon_cache_path()
    try:
        with open(path, "rb") as fh:
            return _frozen(Lexicon.loads(fh.read()))
    except (OSError, ValueError, EOFError, TypeError):
        pass
    lex = _frozen(_build_clinical_lexicon())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(lex.dumps())
        os.replace(tmp, path)  # atomic: concurrent processes never see half a file
    except OSError:
        pass
    return lex


def _frozen(lex: Lexicon) -> Lexicon:
    """Move the lexicon's ~100k long-lived objects out of the garbage collector's scans:
    a full collection otherwise walks them all (a 100 ms pause in a busy batch)."""
    gc.collect()
    gc.freeze()
    return lex


def _build_clinical_lexicon() -> Lexicon:
    lex = Lexicon()
    for row in read_tsv("drugs.tsv"):
        lex.add(row["term"], Entry("drug", row["canonical"]))
    for name, kind in (("drug_classes.tsv", "drug_class"), ("procedures.tsv", "procedure")):
        for row in read_tsv(name):
            lex.add(row["term"], Entry(kind, row["canonical"], row.get("gloss_key", "")))
    for name in ("diseases.tsv", "conditions.tsv"):
        for row in read_tsv(name):
            lex.add(row["term"], Entry(row["category"], row["canonical"]))
    for row in read_tsv("manifestations.tsv"):
        lex.add(row["term"], Entry("manifestation", row["canonical"], row.get("body_system", "")))
    for row in read_tsv("tests.tsv"):
        lex.add(row["term"], Entry("test", row["canonical"], row.get("kind", "")))
    kinds = {"drug", "procedure", "test", "disease"}
    for row in read_tsv("abbreviations.tsv"):
        kind = row.get("kind", "") if row.get("kind", "") in kinds else "abbreviation"
        lex.add(row["abbr"], Entry(kind, row["expansion"], "abbr"), cased=True)
    return lex


@functools.lru_cache(maxsize=None)
def section_headings() -> dict[str, str]:
    return {" ".join(fold_key(r["heading"])): r["kind"] for r in read_tsv("sections.tsv")}


@functools.lru_cache(maxsize=None)
def glossary() -> dict[tuple[str, ...], str]:
    return {fold_key(r["term"]): r["lay"] for r in read_tsv("glossary.tsv")}


@functools.lru_cache(maxsize=None)
def disease_adjectives() -> dict[str, str]:
    return {r["adjective"].lower(): r["disease"] for r in read_tsv("disease_adjectives.tsv")}
