"""Document layout: header zone, sections and sentences, all with offsets.

Works on the analysis string of a ``TextView``. The *header* is everything
before the body starts (title, authors, affiliations, citation lines, web-page
debris); the body is split into sections by their headings ("Background",
"Case 1"... are recognised from ``data/sections.tsv``, also inline as
"Results: ...") and each section into sentences. Clinical extraction reads
only the sentences of clinical sections; references, copyright, figure
captions, keywords and disclosures never become patient facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .textview import TextView
from .vocab import fold_key, section_headings

BODY_KINDS = {"background", "objective", "case", "methods", "results", "conclusion", "discussion", "body"}
# Sections whose sentences may describe the reported patients.
PATIENT_KINDS = {"case", "methods", "results", "body"}

_NUMBERING = re.compile(r"^\s*(?:[0-9]{1,2}|[ivxIVX]{1,4}|[A-Da-d])[.)]\s+")
_INLINE = re.compile(r"^([A-Za-z][A-Za-z' /&\-]{1,48}?)\s*[:\uff1a]\s*(\S.*)$")
_BARE_HEADING = re.compile(
    r"^(background|introduction|objectives?|aims?|methods|results|conclusions?|case\s+(?:report|presentation|description)|discussion)\s+([A-Z].*)$",
    re.I,
)
_FIGURE = re.compile(r"^(?:fig(?:ure)?|table|supplementary (?:figure|table))\.?\s*[0-9]+[a-z]?\b", re.I)
_BULLET = re.compile(r"^[\u2022\u25aa\u25cf\u2023\u2043\u25e6*\-\u00b7]\s+")
# A patient label opening a line or sentence: "Case 1:", "Patient II.", "Observation no 2", "P1:"
LABEL_START = re.compile(
    r"^\W{0,3}(?P<label>(?:case|patient|pt\.?|observation|subject)\s*(?:n[o°º]\.?\s*|#\s*)?(?P<id>\d{1,2}|[IVX]{1,4}\b|[A-D]\b|one|two|three|four|five|six))\b"
    r"\s*(?:[:.,)\-\u2013]|\s|$)"
    r"|^\W{0,3}(?P<short>[PC]\s?(?P<sid>\d{1,2}))\s*[:.)\-\u2013]",
    re.I,
)
_ABBREV = {
    "dr", "drs", "mr", "mrs", "ms", "prof", "st", "vs", "v", "e.g", "i.e", "eg", "ie", "al", "fig", "figs",
    "no", "nos", "approx", "ca", "cf", "resp", "incl", "min", "max", "inc", "ltd", "co", "jr", "sr",
    "dept", "univ", "vol", "pp", "p", "ref", "refs", "mg", "ml", "kg", "wk", "wks", "yr", "yrs", "mo",
    "mos", "hr", "hrs", "sec", "vit", "sp", "spp", "var", "ed", "eds", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "b.i.d", "t.i.d", "q.d",
}
# MEDLINE/PubMed export ("PMID- 123", "TI  - Title", continuation lines indented)
_MEDLINE_FIELD = re.compile(r"^(?P<tag>[A-Z]{2,4}) {0,3}- (?P<value>.*(?:\n {2,}\S.*)*)", re.M)
# A heading inside running text: "... in 2004. CASE REPORT: A 63-year-old ..."
_MIDLINE_HEADING = re.compile(r"[.!?][\"')\]]?\s+(?P<label>[A-Z][A-Za-z /&\-]{2,40}?)\s*:\s+(?=\S)")
_SENT_END = re.compile(r"[.!?](?:[\"')\]]+)?(?=\s+[\"'(\[]?[A-Z0-9\u00c0-\u024f])")


@dataclass
class Line:
    start: int
    end: int
    text: str

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass
class Sentence:
    start: int
    end: int
    text: str
    section: str
    index: int = 0


@dataclass
class Section:
    kind: str
    heading: str | None
    start: int  # body start (analysis offset)
    end: int
    heading_span: tuple[int, int] | None = None
    text: str = field(default="", repr=False)  # the whole analysis string, for splitting
    _sentences: list[Sentence] | None = field(default=None, repr=False)

    @property
    def sentences(self) -> list[Sentence]:
        if self._sentences is None:
            self._sentences = split_sentences(self.text, self.start, self.end, self.kind) if self.kind in BODY_KINDS else []
        return self._sentences


def heading_kind(text: str) -> str | None:
    """The section kind a heading text opens, or None."""
    t = _NUMBERING.sub("", text).strip().strip("*#_:.\u2022 ").strip()
    if not t or len(t) > 60:
        return None
    if _FIGURE.match(t) and len(t.split()) <= 4:
        return "figure"
    key = " ".join(fold_key(t))
    kinds = section_headings()
    if key in kinds:
        return kinds[key]
    if key == "abstract" or key == "summary of the case":
        return "body"
    # "Background/Purpose", "Case report and discussion"
    for part in re.split(r"\s*(?:/|&|\band\b)\s*", t):
        k = " ".join(fold_key(part))
        if k in kinds:
            return kinds[k]
    return None


def split_lines(text: str) -> list[Line]:
    lines = []
    pos = 0
    for raw in text.split("\n"):
        lead = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        start = pos + lead
        lines.append(Line(start, start + len(stripped), stripped))
        pos += len(raw) + 1
    return lines


_VERB = re.compile(
    r"\b(?:was|were|is|are|has|had|have|presented|received|developed|showed|revealed|underwent|"
    r"we|our|admitted|treated|diagnosed)\b",
    re.I,
)


def is_prose(line: str) -> bool:
    """A line of running text (not a title, name list or citation).

    Titles can be long but rarely carry a finite verb or a sentence break;
    running text does.
    """
    if re.match(r"(?:how\s+to\s+cite(?:\s+this\s+article)?|cite\s+this\s+article(?:\s+as)?|citation|to\s+cite)\s*:", line, re.I):
        return False  # a citation line belongs to the header
    words = line.split()
    if len(words) >= 35:
        return True
    if len(words) < 6 or not _VERB.search(line):
        return False
    return line.rstrip().endswith(".") or bool(re.search(r"[a-z]{2}[.;] [A-Z]", line)) or len(words) >= 25


class Layout:
    """Header zone, sections and sentences of one document."""

    def __init__(self, view: TextView):
        self.view = view
        self.text = view.text
        self.lines = split_lines(self.text)
        self.header_lines: list[Line] = []
        self.sections: list[Section] = []
        # MEDLINE records: tag -> [(value start, value end)], in order
        self.medline: dict[str, list[tuple[int, int]]] = {}
        if re.match(r"\s*PMID- ?\d", self.text):
            self._parse_medline()
        if not self.medline:
            self._parse()
        self.sections = [part for sec in self.sections for part in _split_midline(sec, self.text)]
        self._sentences: list[Sentence] | None = None

    @property
    def sentences(self) -> list[Sentence]:
        """Every sentence of the body sections, in order (split on first use)."""
        if self._sentences is None:
            self._sentences = []
            for sec in self.sections:
                if sec.kind in BODY_KINDS:
                    self._sentences.extend(sec.sentences)
            for i, s in enumerate(self._sentences):
                s.index = i
        return self._sentences

    # -- parsing -----------------------------------------------------------
    def _line_heading(self, line: Line) -> tuple[str, int, int] | None:
        """(kind, heading_end, body_start) when the line opens a section."""
        if line.blank:
            return None
        kind = heading_kind(line.text)
        if kind and len(line.text.split()) <= 7:
            return kind, line.end, line.end
        m = _INLINE.match(line.text)
        if m:
            kind = heading_kind(m.group(1))
            if kind:
                return kind, line.start + m.end(1), line.start + m.start(2)
        # "Background Many studies ..." (web copies of congress abstracts drop the colon)
        m = _BARE_HEADING.match(line.text)
        if m and len(line.text) > 60:
            kind = heading_kind(m.group(1))
            if kind in BODY_KINDS:
                return kind, line.start + m.end(1), line.start + m.start(2)
        return None

    def _content_follows(self, i: int) -> bool:
        """True when the line after heading i is body content, not more header
        (an article-type label such as "CASE REPORT" is followed by the title)."""
        for ln in self.lines[i + 1 :]:
            if ln.blank:
                continue
            t = ln.text
            return bool(
                is_prose(t) or _opens_case(t) or LABEL_START.match(t) or self._line_heading(ln)
                or (len(t.split()) >= 6 and _VERB.search(t))
            )
        return False

    def _parse(self) -> None:
        lines = self.lines
        # paragraphs: runs of non-blank lines (a PDF copy wraps one sentence over several)
        para_of: dict[int, tuple[int, int]] = {}
        i = 0
        while i < len(lines):
            if lines[i].blank:
                i += 1
                continue
            j = i
            while j + 1 < len(lines) and not lines[j + 1].blank:
                j += 1
            for k in range(i, j + 1):
                para_of[k] = (i, j)
            i = j + 1
        body_start_line = None
        first_line = next((k for k, ln in enumerate(lines) if not ln.blank), 0)
        for i, line in enumerate(lines):
            if line.blank:
                continue
            h = self._line_heading(line)
            if h and h[0] in BODY_KINDS:
                inline = h[2] < line.end  # "Background: text..." on one line
                if inline or self._content_follows(i):
                    body_start_line = i
                    break
                continue
            if h and h[0] in {"keywords", "coi"} and i > 0:
                continue
            if LABEL_START.match(line.text) and len(line.text.split()) > 4:
                body_start_line = i
                break
            a, b = para_of[i]
            if i == a == first_line and b > a and not is_prose(line.text) and not line.text.endswith("."):
                nxt = lines[i + 1]
                h_next = self._line_heading(nxt)
                if not _BULLET.match(nxt.text) and (
                    (h_next and h_next[0] in BODY_KINDS and (h_next[2] < nxt.end or self._content_follows(i + 1)))
                    or LABEL_START.fullmatch(nxt.text.rstrip(":. "))
                ):
                    body_start_line = i + 1  # a title line directly above "Background ..." or "Case 1"
                    break
            if i == a:
                joined = " ".join(ln.text for ln in lines[a : b + 1])
                # a paragraph of running text has verbs; a title over an author list does not
                prose = is_prose(joined) and (b == a or bool(_VERB.search(joined)))
                if (prose or (b > a and _opens_case(joined))) and not LABEL_START.match(line.text) and (i > 0 or b > a or is_prose(line.text)):
                    # the first paragraph of running text (a lone first line may be a title)
                    if not (i == 0 and not is_prose(line.text) and b == a):
                        body_start_line = i
                        break
        if body_start_line is None:
            # No recognisable header: a plain narrative.
            body_start_line = 0 if any(is_prose(ln.text) for ln in lines) else len(lines)
        self.header_lines = [ln for ln in lines[:body_start_line] if not ln.blank]

        current: Section | None = None
        if body_start_line < len(lines) and not self._line_heading(lines[body_start_line]):
            first = lines[body_start_line]
            current = Section("body", None, first.start, first.start)
        after_blank = True
        for line in lines[body_start_line:]:
            if line.blank:
                after_blank = True
                continue
            h = self._line_heading(line)
            if h and current is not None and current.kind == "keywords" and _BULLET.match(line.text):
                h = None  # "• Case report" inside a keyword list
            if (
                h is None
                and current is not None
                and current.kind in {"background", "objective"}
                and (after_blank or LABEL_START.match(line.text))
                and _opens_case(line.text)
            ):
                # "Introduction: ..." then a new paragraph "Patient 1: A 19-year-old woman ..."
                h = ("case", line.start, line.start)
            after_blank = False
            if h is None and _copyright(line.text):
                h = ("boilerplate", line.end, line.start)
            if h is None and current is not None and current.kind not in {"references"} and _looks_like_reference(line.text):
                h = ("references", line.start, line.start)
            if h is None and current is not None and current.kind in BODY_KINDS and _FIGURE.match(line.text) and len(line.text.split()) > 4:
                # a caption line inside the text ("Fig. 1 MRI showing ..."): set aside, then the text goes on
                self.sections.append(current)
                self.sections.append(Section("figure", None, line.start, line.end, (line.start, line.start)))
                current = Section(current.kind, None, line.end, line.end)
                continue
            if h:
                kind, h_end, b_start = h
                if current is not None:
                    self.sections.append(current)
                current = Section(kind, self.text[line.start:h_end].strip(), b_start, line.end, (line.start, h_end))
                continue
            if current is None:
                current = Section("body", None, line.start, line.end)
            current.end = line.end
        if current is not None:
            self.sections.append(current)
        for sec in self.sections:
            sec.text = self.text

    def _parse_medline(self) -> None:
        """A PubMed export: metadata lives in tagged fields, the abstract in AB."""
        for m in _MEDLINE_FIELD.finditer(self.text):
            self.medline.setdefault(m.group("tag"), []).append((m.start("value"), m.end("value")))
        if "TI" not in self.medline and "AB" not in self.medline:
            self.medline = {}  # only the PMID line is tagged: not a MEDLINE record after all
            return
        abstract = self.medline.get("AB")
        if abstract:
            start, end = abstract[0]
            self.sections.append(Section("body", None, start, end, text=self.text))

    # -- queries -----------------------------------------------------------
    def section_at(self, pos: int) -> Section | None:
        for sec in self.sections:
            if sec.start <= pos <= sec.end:
                return sec
        return None

_AGE_INTRO = re.compile(r"\b\d{1,3}(?:[.,]\d+)?[\s-]*(?:year|yr|month|week|day)s?[\s-]*old\b|\baged\s+\d", re.I)


def _split_midline(sec: Section, text: str) -> list[Section]:
    """Split a section at headings written inside its running text."""
    if sec.kind not in BODY_KINDS:
        return [sec]
    out = [sec]
    for m in _MIDLINE_HEADING.finditer(text, sec.start, sec.end):
        label = m.group("label")
        kind = heading_kind(label)
        if kind is None or kind in {"figure", "affiliations"} or not (label.isupper() or label.split()[0].istitle()):
            continue
        cur = out[-1]
        a = m.start("label")
        out[-1] = Section(cur.kind, cur.heading, cur.start, len(text[:a].rstrip()), cur.heading_span, text)
        out.append(Section(kind, label, m.end(), cur.end, (a, a + len(label)), text))
    return out


def _opens_case(text: str) -> bool:
    """A paragraph that starts telling a patient's story."""
    if LABEL_START.match(text):
        return True
    head = " ".join(text.split()[:14])
    return bool(_AGE_INTRO.search(head)) or bool(re.match(r"^(?:we|here\s+we)\s+(?:report|present|describe)\b", text, re.I))


def _copyright(text: str) -> bool:
    return bool(re.match(r"^(?:\u00a9|\(c\)\s|copyright\b|this article is (?:published|distributed)|open access this|licensee\b)", text, re.I))


_REF_LINE = re.compile(
    r"^(?:\[\d{1,3}\]|\d{1,3}\.|\d{1,3}\))\s+[A-Z][A-Za-z'\-]+,?\s+(?:[A-Z]{1,3}\b|[A-Z]\.)"
)


def _looks_like_reference(text: str) -> bool:
    if _REF_LINE.match(text) and re.search(r"\b(?:19|20)\d{2}\b", text):
        return True
    return bool(re.search(r"\bet al\.?,?\s.*\b(?:19|20)\d{2}\s*;\s*\d+", text))


def split_sentences(text: str, start: int, end: int, kind: str) -> list[Sentence]:
    """Sentences of ``text[start:end]``; line breaks end a sentence only where the layout says so."""
    out: list[Sentence] = []
    region = text[start:end]
    # Candidate boundaries: sentence punctuation, and line breaks that are real breaks.
    cuts: list[int] = []
    for m in _SENT_END.finditer(region):
        before = region[: m.start()]
        word = re.search(r"([A-Za-z.]+)$", before)
        w = word.group(1).lower().rstrip(".") if word else ""
        if w in _ABBREV or (word and len(word.group(1)) == 1 and word.group(1).isupper()):
            continue
        if re.search(r"\bet al$", before):
            continue
        cuts.append(m.end())
    lines = region.split("\n")
    pos = 0
    for i, ln in enumerate(lines[:-1]):
        pos += len(ln) + 1
        cur, nxt = ln.strip(), lines[i + 1].strip()
        if not cur or not nxt:
            cuts.append(pos)
        elif cur[-1] in ".!?:;" or LABEL_START.match(nxt) or _BULLET.match(nxt) or _BULLET.match(cur):
            cuts.append(pos)
        elif len(cur.split()) <= 6 and nxt[:1].isupper() and not re.search(r"[,(]$", cur):
            cuts.append(pos)
    # Labels inside a line ("... 6.1 years. Patient 2: ...") are already cut at the period.
    cuts = sorted(set(c for c in cuts if 0 < c < len(region)))
    prev = 0
    for c in cuts + [len(region)]:
        seg = region[prev:c]
        lead = len(seg) - len(seg.lstrip())
        s, e = start + prev + lead, start + prev + len(seg.rstrip())
        if e > s:
            out.append(Sentence(s, e, text[s:e], kind))
        prev = c
    return out
