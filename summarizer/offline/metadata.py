"""Document metadata from the header zone and the trailing sections.

Reads what a human reads at the top of an abstract: congress section, title,
authors (without affiliation markers), affiliations, the citation line
(journal, year, volume, issue, pages, even glued as in
``Journal Name20196(Suppl 2):P104``), DOI, publication date, venue, keywords
and the conflict-of-interest statement. Web-page debris (bullets,
"Open Access", "Download PDF", non-breaking spaces, superscript markers) is
recognised and skipped. This parser is deterministic, so the LLM backend
takes DOI, year, journal and authors from it too.
"""

from __future__ import annotations

import re

from ..layout import Layout, Line
from ..models import Document
from ..vocab import clinical_lexicon

MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan", "janvier", "enero"),
            ("february", "feb", "fevrier", "février", "febrero"),
            ("march", "mar", "mars", "marzo"),
            ("april", "apr", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("june", "jun", "juin", "junio"),
            ("july", "jul", "juillet", "julio"),
            ("august", "aug", "août", "aout", "agosto"),
            ("september", "sep", "sept", "septembre", "septiembre"),
            ("october", "oct", "octobre", "octubre"),
            ("november", "nov", "novembre", "noviembre"),
            ("december", "dec", "décembre", "decembre", "diciembre"),
        ],
        start=1,
    )
    for m in names
}

SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207d\u207e\u207a\u207b\u1d43\u1d47\u1d9c\u1d48\u1d49"
_MARKER = re.compile(
    rf"[{SUPERSCRIPTS}]+|\(\s*\d{{1,2}}(?:\s*,\s*\d{{1,2}})*\s*\)|[*\u2020\u2021\u00a7\u00b6#]+|(?<=[^\W\d_])\d{{1,2}}(?:\s*,\s*\d{{1,2}})*(?=\s*(?:$|[,;&\-\u2013]|\band\b))"
)
_INSTITUTION = re.compile(
    r"\b(?:universit\w*|hospital\w*|h[oô]pital|departments?|dept\.?|institut\w*|clinic\w*|cent(?:er|re)s?|faculty|school|"
    r"service|unit|laborator\w*|division|college|foundation|medical|health|klinik\w*|hospices?|chu|chru|ospedale|"
    r"policlinic\w*|polyclinic\w*|infirmary|research|sciences?|academy|ministry|irccs|inserm|cnrs)\b",
    re.I,
)
_STRONG_INSTITUTION = re.compile(
    r"\b(?:universit\w*|hospital\w*|h[oô]pital|departments?|dept\.?|institut\w*|clinics?|cl[ií]nica|cent(?:er|re)s?|faculty|school|"
    r"laborator\w*|division|college|foundation|klinik\w*|hospices?|chu|chru|ospedale|policlinic\w*|polyclinic\w*|"
    r"infirmary|academy|ministry|irccs|inserm|cnrs)\b",
    re.I,
)
_VENUE = re.compile(
    r"\b(?:congress|conference|meeting|symposium|summit|convention|forum|workshop|congr[eè]s|kongress|annual scientific|"
    r"convergence|world congress)\b",
    re.I,
)
_DEBRIS = re.compile(
    r"^(?:open access|free access|full text|pdf|download pdf|download citation|cite this article|share|metrics|article|"
    r"research article|research|meeting abstract|meeting abstracts|poster presentation|oral presentation|poster|"
    r"case report|case reports|clinical case|abstract|abstracts|article info|article information|view article|"
    r"view full text|full-text|links|save|email|send to|display options|similar articles|cited by|"
    r"(?:pmid|pmcid|pubmed|epub)\b.*|\d+\s+citations?|\d+\s+accesses|.*\baltmetric\b.*|rights and permissions|"
    r"reprints and permissions|advertisement|skip to (?:main )?content|menu|(?:e-?)?issn\b.*|citation tools:?|related content|copyright information|search|home|back to top|article text|"
    r"article metrics|abstract text|related articles|request permissions)\.?$",
    re.I,
)
DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>,;]+")
_PUBLISHED = re.compile(r"(?:^|[/|;]\s*|\b)(?:published(?:\s+online)?|date\s+of\s+publication|first\s+published|publication\s+date)\s*:?\s*([^/|;]+)", re.I)
_EPUB = re.compile(r"\bepub(?:\s+ahead\s+of\s+print)?\s*:?\s*((?:19|20)\d{2}\s+[A-Za-z]{3,9}\.?\s+\d{1,2}|\d{1,2}\s+[A-Za-z]{3,9}\s+(?:19|20)\d{2})", re.I)
_NAME_TOKEN = re.compile(
    r"^(?:[A-Z\u00c0-\u024f\u1e00-\u1eff][a-z\u00c0-\u024f\u1e00-\u1eff'\u2019]+(?:-[A-Z\u00c0-\u024f\u1e00-\u1eff]?[a-z\u00c0-\u024f\u1e00-\u1eff'\u2019]+)*"
    r"|[A-Z\u00c0-\u00de]{1,3}\.?(?:-[A-Z]\.?)?|(?:[A-Z]\.){1,3}(?:-[A-Z]\.)?|O'[A-Z][a-z]+|Mc[A-Z][a-z]+|Mac[A-Z][a-z]+)$"
)
_PARTICLES = {
    "van", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "do", "du", "la", "le", "von", "zu",
    "bin", "binti", "ibn", "al", "el", "ter", "ten", "y", "e", "st", "af",
}

CITATION_PATTERNS = [
    # Glued web-page citation: "Journal Name20196(Suppl 2):P104"
    re.compile(
        r"^(?P<journal>[A-Z][A-Za-z .&'\-]*?[A-Za-z.])\s*(?P<year>(?:19|20)\d{2})\s*(?P<volume>\d{1,4})\s*"
        r"(?:\((?P<issue>[^)]{1,20})\))?\s*:\s*(?P<pages>[A-Za-z]{0,3}\d+[A-Za-z0-9]*(?:\s*[-\u2013]\s*[A-Za-z]{0,3}\d+)?)"
    ),
    # NLM style: "J Dermatol. 2019 Mar;46(3):e95-e97."
    re.compile(
        r"(?P<journal>[A-Z][A-Za-z .&'()\-]{2,80}?)\.?\s+(?P<year>(?:19|20)\d{2})(?:\s+[A-Z][a-z]{2,8}(?:-[A-Z][a-z]{2,8})?(?:\s+\d{1,2})?)?\s*;\s*"
        r"(?P<volume>\d{1,4})\s*(?:\((?P<issue>[^)]{1,20})\))?\s*:\s*(?P<pages>[A-Za-z]{0,3}\d+[A-Za-z0-9]*(?:\s*[-\u2013]\s*[A-Za-z]{0,3}\d+)?)"
    ),
    # BMC page: "Journal of Medical Case Reports volume 12, Article number: 45 (2018)"
    re.compile(
        r"^(?P<journal>[A-Z][A-Za-z .&'\-]+?)\s+volume\s+(?P<volume>\d+)\s*,\s*(?:Article number|Article|page)s?\s*:?\s*"
        r"(?P<pages>[A-Za-z]?\d+[A-Za-z0-9]*)\s*\((?P<year>(?:19|20)\d{2})\)",
        re.I,
    ),
    # Publisher page: "Journal Name, Volume 12, Issue 3, March 2019, Pages 45-50"
    re.compile(
        r"^(?P<journal>[A-Z][^,\d]{2,80}),\s*Vol(?:ume|\.)?\s*(?P<volume>\d+)\s*,\s*(?:(?:Issue|No\.?)\s*(?P<issue>[^,]{1,20}),\s*)?"
        r"(?:[A-Z][a-z]+\.?\s+(?:\d{1,2},?\s+)?)?(?P<year>(?:19|20)\d{2})\s*,\s*(?:Pages?|pp\.?|Article|e)\s*(?P<pages>[A-Za-z]?\d+(?:\s*[-\u2013]\s*[A-Za-z]?\d+)?)",
        re.I,
    ),
]
_VOLUME_LINE = re.compile(
    r"^vol(?:ume|\.)?\s*(?P<volume>\d+)\s*(?:,?\s*(?:(?:issue|no\.?|number)\s*(?P<issue>\w+)|(?P<suppl>(?:supplement|suppl\.?)\s*\w+)))?"
    r"(?:,?\s*(?:[A-Z][a-z]+\.?\s+)?(?P<year>(?:19|20)\d{2}))?(?:,?\s*(?:pages?|pp\.?)\s*(?P<pages>\d+(?:\s*[-\u2013]\s*\d+)?))?\.?$",
    re.I,
)


_DEBRIS_WORDS = re.compile(
    r"^(?:\s*(?:download pdf|download citation|cite this article|share|metrics details|metrics|open access|full text|"
    r"pdf|article|abstract|case report|home|archive|menu|search|save|email|print|\d+\s+accesses|\d+\s+citations?|"
    r"[\u203a\u00bb>|/]|volume\s+\d+(?:,\s*issue\s+\w+)?))+\s*$",
    re.I,
)


def _is_debris_run(text: str) -> bool:
    """Navigation and toolbar lines: 'Download PDF   Cite this article   Share', 'Home › Archive › Volume 12'."""
    return bool(_DEBRIS_WORDS.match(text)) or text.count("\u203a") >= 1 or text.count("\u00bb") >= 2


def strip_markers(text: str) -> str:
    text = _MARKER.sub(" ", text)
    text = re.sub(r"^\s*(?:[\u2022\u25aa\u25cf\u00b7\-]\s*)", "", text)
    return re.sub(r"\s+", " ", text).strip(" ,;.-\u2013")


_NOT_NAME_WORDS = {
    "journal", "case", "cases", "report", "reports", "annals", "archives", "medicine", "medical", "clinical",
    "research", "review", "reviews", "open", "access", "science", "sciences", "letters", "abstract", "abstracts",
    "volume", "issue", "supplement", "department", "hospital", "university", "society", "congress", "meeting",
    "investigators", "group", "study", "trial", "home", "archive", "download", "cite", "article", "share",
    "pdf", "metrics", "advertisement", "poster", "presentation", "session", "keywords", "background", "the",
    # journal abbreviations ("J Clin Med Res") and masthead words
    "clin", "med", "res", "rep", "rev", "proc", "surg", "sci", "dis", "ther", "dermatol", "rheumatol", "pediatr",
    "paediatr", "neurol", "oncol", "cardiol", "gastroenterol", "immunol", "nephrol", "endocrinol", "hematol",
    "haematol", "ophthalmol", "radiol", "pathol", "infect", "pharmacol", "copyright", "website", "issn", "online",
}


def is_name(item: str) -> bool:
    if any(w.lower().strip(".,") in _NOT_NAME_WORDS for w in item.split()):
        return False
    toks = item.replace(".", ". ").split()
    toks = [t for t in toks if t]
    if not 2 <= len(toks) <= 6:
        return False
    real = 0
    for t in toks:
        if t in _PARTICLES:  # lower-case particles: "van der", "de la"
            continue
        if not _NAME_TOKEN.match(t):
            return False
        real += 1
    return real >= 2 and not _INSTITUTION.search(item)


_DEGREES = re.compile(
    r",?\s*\b(?:MD|M\.D\.|PhD|Ph\.D\.|DO|MS|MSc|BS|BSc|MPH|MBBS|MBChB|FRCP|FRCPC|FACP|FACR|FAAP|RN|PharmD|DPhil|MA|BA|CAQSM|DNB|DM|MRCP|MRCPCH)\b\.?(?=\s*(?:,|;|$|\s+and\b))"
)


def split_author_items(text: str) -> list[str]:
    text = _KV_AUTHORS.sub("", text)
    text = _DEGREES.sub("", text)  # "Jacob Doyle, MS, DO"
    text = re.sub(r"^\s*\d{1,2}[.)]\s+", "", text)  # "1. P. Faggioli," in a numbered list
    text = _MARKER.sub(" ", text)
    parts = re.split(r"\s+[-\u2013\u2014]\s+|[,;\u2022\u00b7]|\s+and(?:\s+|$)|\s*&\s*|\s+et\s+", text)
    return [re.sub(r"\s+", " ", p).strip(" .,;-\u2013&") for p in parts if p.strip(" .,;-\u2013&")]


def parse_authors(text: str) -> list[str] | None:
    items = [i for i in split_author_items(text) if not re.fullmatch(r"[\d\s,]+", i)]
    if not items:
        return None
    names = [i for i in items if is_name(i)]
    if len(names) >= max(1, 0.6 * len(items)):
        return names
    return None


def split_affiliations(text: str) -> list[str]:
    # "1 Dept..., 2 Dept..." / "Hospital...⁽¹⁾ - Hospital...⁽²⁾" / "...; ..."
    parts = re.split(rf"\s+[-\u2013\u2014]\s+(?=[A-Z])|;\s*|(?:^|\s)(?:\d{{1,2}}|[{SUPERSCRIPTS}]+)\s*(?=[A-Z])", text)
    out = []
    for p in parts:
        p = strip_markers(re.sub(r"^\s*[a-z](?=[A-Z][a-z])", "", p or ""))  # "aDepartment of ..."
        if p and _INSTITUTION.search(p) and len(p) > 4:
            out.append(p)
    return out


def sentence_case(text: str) -> str:
    """Sentence case for an ALL-CAPS heading; keeps abbreviations and tokens with digits."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) < 0.8 * len(letters):
        return text
    lex = clinical_lexicon()

    def fix(m: re.Match) -> str:
        w = m.group(0)
        if any(c.isdigit() for c in w) or (len(w) <= 5 and lex.is_cased_abbreviation(w)):
            return w
        return w.lower()

    out = re.sub(r"[^\W_]+(?:-[^\W_]+)*", fix, text)
    return out[:1].upper() + out[1:]


def parse_date(text: str) -> str | None:
    t = text.strip().lower().replace(",", " ")
    m = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", t)
    if m:
        return m.group(0)
    m = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-zéû]+)\.?\s+(\d{4})\b", t)
    if m and m.group(2) in MONTHS:
        return f"{int(m.group(3)):04d}-{MONTHS[m.group(2)]:02d}-{int(m.group(1)):02d}"
    m = re.search(r"\b([a-zéû]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s+(\d{4})\b", t)
    if m and m.group(1) in MONTHS:
        return f"{int(m.group(3)):04d}-{MONTHS[m.group(1)]:02d}-{int(m.group(2)):02d}"
    m = re.search(r"\b(\d{4})\s+([a-z]+)\.?\s+(\d{1,2})\b", t)
    if m and m.group(2) in MONTHS:
        return f"{int(m.group(1)):04d}-{MONTHS[m.group(2)]:02d}-{int(m.group(3)):02d}"
    return None


def parse_citation(text: str) -> dict[str, str] | None:
    for pat in CITATION_PATTERNS:
        m = pat.search(text)
        if m:
            d = {k: v.strip() for k, v in m.groupdict().items() if v}
            d["journal"] = re.sub(r"\s+", " ", d["journal"]).strip(" .,")
            # "How to cite: Doe J, Roe R. A title. J Abbrev. 2023;14(4):1-4": the journal is the last sentence
            parts = re.split(r"\.\s+", d["journal"])
            titled = [i for i, part in enumerate(parts[:-1]) if re.search(r"\b[a-z]{4,}\b", part)]
            if titled:
                d["journal"] = ". ".join(parts[titled[-1] + 1 :])
            if len(d["journal"]) < 3 or d["journal"].lower().startswith(("doi", "http", "vol")):
                continue
            return d
    return None


def clean_venue(text: str) -> str:
    """'Abstracts of the 12th European X Meeting, Lisbon, 2023' -> '12th European X Meeting'."""
    v = _fix_glued(text if re.search(r"\(\w+\)", text) else strip_markers(text))
    v = re.sub(r"^(?:(?:meeting\s+)?abstracts?|proceedings|supplement|poster\s+abstracts?)\s+(?:of|from|for)\s+(?:the\s+)?", "", v, flags=re.I)
    parts = [p.strip() for p in v.split(",")]
    if len(parts) > 1:
        keep = [p for p in parts if _VENUE.search(p)]
        if keep:
            v = keep[0]
    return v.strip(" .")


# Congress abstract numbers in front of a title: "AB0721", "THU0234", "OP0123", "POS1234"
_ABSTRACT_NUMBER = re.compile(r"^(?:[A-Z]{1,4}\d{2,5}[A-Z]?|[A-Z]{1,3}-\d{1,4})\s+(?=[A-Z])")


def _fix_glued(text: str) -> str:
    """'15thPaediatric' -> '15th Paediatric'; 'Rheumatology2008' -> 'Rheumatology 2008'."""
    text = re.sub(r"(\d)(st|nd|rd|th)(?=[A-Z])", r"\1\2 ", text)
    return re.sub(r"\s+", " ", text).strip()


def _clean_doi(doi: str) -> str:
    return doi.rstrip(".,;:)]}'\"")


def _reads_like_title(text: str) -> bool:
    """Two clinical terms and hardly a comma: a title that happens to say 'Center' or 'Hospital'."""
    return text.count(",") < 2 and len(clinical_lexicon().find(text)) >= 2


_KV_AUTHORS = re.compile(r"^(?:authors?|presenters?|author/presenter(?:\s+full\s+name)?|presenting\s+author|submitted\s+by|by)\s*:\s*", re.I)
_KV_AFFILIATION = re.compile(r"^(?:affiliations?|institutions?|institution\(s\)|address)\s*:\s*", re.I)


def classify_header_line(text: str) -> str:
    t = re.sub(r"^[\u2022\u25aa\u25cf\u00b7*\-]\s*", "", text.strip())
    if _KV_AUTHORS.match(t):
        return "authors"
    if _KV_AFFILIATION.match(t):
        return "affiliation"
    bare = strip_markers(t)
    if not bare or re.fullmatch(r"[\d\W_]+", bare):
        return "debris"
    if _DEBRIS.match(t) or _DEBRIS.match(bare) or _is_debris_run(t):
        return "debris"
    if DOI.search(t) and len(DOI.sub("", t).split()) <= 4:
        return "doi"
    if re.match(r"^(?:short|running)\s+(?:title|head)\s*:|^[a-z]?(?:corresponding\s+author|correspondence)\b", t, re.I):
        return "debris"
    if re.search(r",\s*(?:e-?)?ISSN\b", t):
        return "journal"  # "Journal of X, ISSN 1234-5678 print, ..."
    if re.match(r"^(?:published|received|accepted|revised|issue date|date|first published|epub|(?:manuscript\s+)?submitted)\b", t, re.I) and re.search(r"\b(?:19|20)\d{2}\b", t):
        return "date"
    if parse_citation(t):
        return "citation"
    if _VOLUME_LINE.match(t):
        return "volume"
    if re.match(r"^(?:session title|session|category|topic|theme|track|abstract category|section)\s*:", t, re.I):
        return "section"
    if re.match(r"^(?:meeting|congress|conference|event)\s*:", t, re.I) or (_VENUE.search(t) and len(t.split()) <= 16 and not t.endswith(".")):
        return "venue"
    if re.match(r"^(?:abstract number|abstract no|poster number|abstract id|presentation number)\b", t, re.I):
        return "debris"
    if re.match(r"^(?:https?://|www\.)\S+$", t):
        return "debris"
    if parse_authors(t):
        return "authors"
    if (_STRONG_INSTITUTION.search(t) or (_INSTITUTION.search(t) and "," in t)) and not _reads_like_title(t):
        return "affiliation"
    if re.match(r"^\d{1,2}[.)]\s+", t) and parse_authors(t):
        return "authors"
    return "text"


def read_header(layout: Layout, *, title: bool = True) -> tuple[Document, tuple[int, int] | None]:
    """The document metadata, and the analysis span of the title (None when there is no title).

    ``title=False`` skips choosing the title and congress section (the costly part)."""
    if layout.medline:
        return _read_medline(layout)
    doc = Document()
    title_span = None
    header = layout.header_lines
    kinds = [classify_header_line(ln.text) for ln in header]

    # Consecutive bullet lines, each one name, form one author list.
    authors: list[str] = []
    affiliations: list[str] = []
    texts: list[Line] = []
    for ln, kind in zip(header, kinds):
        t = ln.text
        if kind == "authors":
            # EULAR style: "J. Smith 1, M. Doe 2. 1 Rheumatology, Hospital, City; 2 ..."
            m = re.search(r"\.\s+(?=\d{1,2}\s*[A-Z][^.]*" + _INSTITUTION.pattern + ")", t)
            if m:
                authors += parse_authors(t[: m.start()]) or []
                affiliations += split_affiliations(t[m.end():])
            else:
                authors += parse_authors(t) or []
        elif kind == "affiliation":
            affiliations += split_affiliations(_KV_AFFILIATION.sub("", t))
        elif kind == "doi" and not doc.doi:
            doc.doi = _clean_doi(DOI.search(t).group(0))
        elif kind == "date":
            m = _PUBLISHED.search(t)
            if m and not doc.published:
                doc.published = parse_date(m.group(1))
        elif kind == "citation":
            c = parse_citation(t) or {}
            doc.journal = doc.journal or c.get("journal")
            if doc.year is None and c.get("year"):
                doc.year = int(c["year"])
            doc.volume = doc.volume or c.get("volume")
            doc.issue = doc.issue or c.get("issue")
            doc.pages = doc.pages or (re.sub(r"\s+", "", c["pages"]) if c.get("pages") else None)
            dm = DOI.search(t)
            if dm and not doc.doi:
                doc.doi = _clean_doi(dm.group(0))
            em = _EPUB.search(t)
            if em and not doc.published:
                doc.published = parse_date(em.group(1))
        elif kind == "journal":
            doc.journal = doc.journal or re.split(r",\s*(?:e-?)?ISSN\b", t)[0].strip()
        elif kind == "volume":
            m = _VOLUME_LINE.match(t)
            doc.volume = doc.volume or m.group("volume")
            doc.issue = doc.issue or m.group("issue") or m.group("suppl")
            doc.pages = doc.pages or (re.sub(r"\s+", "", m.group("pages")) if m.group("pages") else None)
            if doc.year is None and m.group("year"):
                doc.year = int(m.group("year"))
        elif kind == "venue":
            v = re.sub(r"^(?:meeting|congress|conference|event)\s*:\s*", "", t, flags=re.I)
            doc.venue = doc.venue or clean_venue(v)
        elif kind == "section":
            doc.section = doc.section or sentence_case(re.sub(r"^[^:]*:\s*", "", t))
        elif kind == "text":
            texts.append(ln)

    # Title and congress section among the remaining text lines: the title is
    # the longest run of text lines; an ALL-CAPS short line before it is the
    # congress section heading.
    runs: list[list[Line]] = []
    for ln in texts:
        if runs and _next_to(layout, runs[-1][-1], ln) and not runs[-1][-1].text.endswith("."):
            runs[-1].append(ln)
        else:
            runs.append([ln])
    if runs and title:
        scored = sorted(runs, key=lambda r: (_title_score(r), -runs.index(r)), reverse=True)
        title_run = scored[0]
        raw_title = " ".join(l.text.strip() for l in title_run)
        raw_title = _ABSTRACT_NUMBER.sub("", raw_title)  # "AB0721 Usefulness of ..."
        doc.title = sentence_case(raw_title).rstrip(".")
        title_span = (title_run[0].start, title_run[-1].end)
        for run in runs[: runs.index(title_run)]:
            t = " ".join(l.text for l in run)
            if not doc.section and t.isupper() and len(t.split()) <= 8:
                doc.section = sentence_case(t)

    # Trailing sections: keywords, disclosures, affiliations.
    for sec in layout.sections:
        body = layout.text[sec.start:sec.end].strip()
        if sec.kind == "keywords" and not doc.keywords:
            doc.keywords = [k.strip(" .") for k in re.split(r"[;,\u00b7\u2022|\n]|\s+-\s+", body) if k.strip(" .\u2022")]
        elif sec.kind == "coi" and not doc.conflict_of_interest and body:
            doc.conflict_of_interest = re.sub(r"\s+", " ", body).strip()
        elif sec.kind == "affiliations":
            for ln in body.splitlines():
                ln = re.sub(r"^\(?\d{1,2}[.)]\s+", "", ln.strip())
                if parse_authors(ln):
                    continue  # web pages list each institution's authors under it
                if ln and _INSTITUTION.search(ln):
                    affiliations += split_affiliations(ln) or [strip_markers(ln)]

    if not doc.doi:
        for sec in layout.sections:
            if sec.kind in {"references"}:
                continue
            m = DOI.search(layout.text[sec.heading_span[0] if sec.heading_span else sec.start : sec.end])
            if m:
                doc.doi = _clean_doi(m.group(0))
                break
    if doc.year is None and doc.published:
        doc.year = int(doc.published[:4])
    if doc.year is None:
        m = re.search(r"(?:\u00a9|\(c\)|copyright)[^\n]{0,80}?\b((?:19|20)\d{2})\b", layout.text, re.I)
        if m:
            doc.year = int(m.group(1))

    doc.authors = _strip_glued_markers(_dedupe(authors), header)
    doc.affiliations = _dedupe(affiliations)
    return doc, title_span


def _strip_glued_markers(authors: list[str], header: list[Line]) -> list[str]:
    """'Shiori Kinoshitaa' -> 'Shiori Kinoshita' when the affiliations read 'aDepartment of ...'.

    Only when every author's name ends in one of those marker letters: a name
    that merely ends in 'a' is left alone."""
    markers = {m.group(1) for ln in header if (m := re.match(r"([a-z])(?=[A-Z][a-z])", ln.text)) and _INSTITUTION.search(ln.text)}
    if not markers or not authors or not all(a[-1] in markers and a[-2].isalpha() for a in authors):
        return authors
    return [a[:-1] for a in authors]


def _read_medline(layout: Layout) -> tuple[Document, tuple[int, int] | None]:
    """A PubMed export ("MEDLINE" format): every field is tagged, nothing to guess."""
    fields = layout.medline

    def values(tag: str) -> list[str]:
        return [re.sub(r"\s+", " ", layout.text[a:b]).strip() for a, b in fields.get(tag, [])]

    def first(*tags: str) -> str | None:
        return next((v for t in tags for v in values(t) if v), None)

    doc = Document()
    title_span = fields["TI"][0] if "TI" in fields else None
    doc.title = (first("TI") or "").rstrip(".") or None
    # "FAU - Doyle, Jacob" -> "Jacob Doyle"; "AU - Doyle J" as written when there is no full name
    doc.authors = [" ".join(reversed([p.strip() for p in v.split(",", 1)])) for v in values("FAU")] or values("AU")
    doc.affiliations = _dedupe([a for v in values("AD") for a in split_affiliations(v) or [v]])
    doc.journal = first("JT", "TA")
    m = re.match(r"((?:19|20)\d{2})", first("DP") or "")
    doc.year = int(m.group(1)) if m else None
    doc.volume, doc.issue, doc.pages = first("VI"), first("IP"), first("PG")
    doi = next((v for v in values("LID") + values("AID") if v.endswith("[doi]")), None)
    doc.doi = _clean_doi(doi[: -len("[doi]")].strip()) if doi else None
    dep = first("DEP")
    if dep and re.fullmatch(r"\d{8}", dep):
        doc.published = f"{dep[:4]}-{dep[4:6]}-{dep[6:]}"
    else:
        doc.published = parse_date(first("DP") or "")
    doc.keywords = [k.lstrip("*") for k in values("OT")]
    doc.conflict_of_interest = first("COIS")
    return doc, title_span


def _next_to(layout: Layout, a: Line, b: Line) -> bool:
    """True when line b directly follows line a (no blank line between)."""
    between = layout.text[a.end:b.start]
    return between.count("\n") <= 1


def _title_score(run: list[Line]) -> tuple:
    text = " ".join(l.text for l in run)
    words = len(text.split())
    clinical = len(clinical_lexicon().find(text))
    return (clinical > 0, min(words, 30) + 3 * clinical)


def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for it in items:
        key = re.sub(r"\W+", " ", it).strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(it)
    return out
