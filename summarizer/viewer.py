"""The evidence viewer: one self-contained HTML page per summary, and the HTML eval report.

    from summarizer.viewer import render_html, write_html
    write_html(summary, text, "case.html", title="case.txt")

The page shows the source text on the left with every evidence span highlighted
(one colour per kind of fact) and the structured record on the right. Clicking a
fact scrolls to its words and flashes them; hovering highlighted words says which
facts they support. Nothing is fetched from the network.

Safety: every piece of user text reaches the page through jinja2 with autoescape
on. The source pane is built here as a list of :class:`Segment` objects (plain
data) that the template escapes; the only data handed to JavaScript is one JSON
blob encoded with jinja's ``tojson`` filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeVar
from urllib.parse import quote as _urlquote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from rapidfuzz import fuzz

from .grounding import holds
from .models import DESIGNS, CaseSummary, Evidence, Patient
from .render import age_text, safe_filename, words

T = TypeVar("T")

# Kinds of fact, in legend order: css key -> label.
KINDS: dict[str, str] = {
    "demo": "Demographics",
    "manif": "Manifestations & comorbidities",
    "finding": "Findings",
    "treat": "Treatments",
    "outcome": "Outcomes",
    "ae": "Adverse events",
    "study": "Study",
}
STUDY_FIELDS = ["design", "n_patients", "condition", "problem", "intervention", "follow_up"]
DEMO_FIELDS = ["label", "age_years", "sex", "age_at_onset_years"]
LIST_FIELDS = {"manifestations": "manifestation", "comorbidities": "comorbidity"}
DOCUMENT_FIELDS = ["title", "authors", "affiliations", "journal", "year", "volume", "issue", "pages", "doi",
                   "published", "venue", "section", "keywords", "conflict_of_interest"]
TREATMENT_COLUMNS = ["role", "response", "dose", "route", "courses", "duration"]
FIELD_NAMES = {
    "age_years": "age", "age_at_onset_years": "age at onset", "n_patients": "patients", "follow_up": "follow-up",
    "conflict_of_interest": "conflict of interest",
}

_PATH = re.compile(r"^patients\[(\d+)\](?:\.(findings|treatments)\[(\d+)\]|\.(outcome|adverse_events))?$")


# ---------------------------------------------------------------------------
# Facts, evidence marks and segments


class _MarkFlags:
    """Badges shared by a fact and a text segment, read from their evidence marks."""

    marks: list

    @property
    def fuzzy(self) -> bool:
        return any(m.ev.alignment == "fuzzy" for m in self.marks)

    @property
    def misaligned(self) -> bool:
        return any(not m.ok for m in self.marks)


@dataclass(eq=False)
class Fact(_MarkFlags):
    """One thing the record asserts (a treatment, an age, one manifestation...) and its evidence."""

    id: str
    kind: str
    label: str
    marks: list["Mark"] = field(default_factory=list)
    expects_evidence: bool = True  # False for "not reported" and inferred values: no "no quote" badge

    @property
    def unquoted(self) -> bool:
        return self.expects_evidence and not self.has_evidence


    @property
    def visible_marks(self) -> list["Mark"]:
        """Marks with a non-empty range in the text, in text order (the click order)."""
        return sorted((m for m in self.marks if m.end > m.start), key=lambda m: (m.start, m.end))

    @property
    def has_evidence(self) -> bool:
        return bool(self.visible_marks)


@dataclass(eq=False)
class Mark:
    """One evidence item placed in the text (range clamped to the text)."""

    id: str
    ev: Evidence
    fact: Fact
    start: int
    end: int
    ok: bool  # text[start:end] == quote

    @property
    def note(self) -> str:
        """The tooltip line for this mark."""
        bits = [self.fact.label]
        if self.ev.field:
            bits.append(f"[{self.ev.field}]")
        if self.ev.alignment == "fuzzy":
            bits.append("· fuzzy match")
        if not self.ok:
            bits.append("· offsets do not match the quote")
        return " ".join(bits)


@dataclass
class Segment(_MarkFlags):
    """A run of source text covered by the same set of evidence marks (maybe none)."""

    text: str
    start: int
    end: int
    marks: list[Mark]

    @property
    def ev_ids(self) -> str:
        return " ".join(m.id for m in self.marks)

    @property
    def fact_ids(self) -> str:
        return " ".join(dict.fromkeys(m.fact.id for m in self.marks))

    @property
    def kinds(self) -> list[str]:
        present = {m.fact.kind for m in self.marks}
        return [k for k in KINDS if k in present]

    @property
    def kind(self) -> str:
        """The kind of the innermost (shortest) mark: the segment's background colour."""
        return min(self.marks, key=lambda m: m.end - m.start).fact.kind

    @property
    def stripes(self) -> str:
        """CSS for one underline stripe per kind (built from the fixed palette only)."""
        return ", ".join(f"inset 0 -{2 * (i + 1)}px 0 var(--{k})" for i, k in enumerate(self.kinds))

    @property
    def title(self) -> str:
        return "\n".join(dict.fromkeys(m.note for m in self.marks))



def segment(length: int, spans: Iterable[tuple[int, int, T]]) -> list[tuple[int, int, list[T]]]:
    """Split ``[0, length)`` at every span boundary.

    Returns ``(start, end, items)`` pieces that tile the range exactly; ``items``
    are the payloads of all spans covering the piece, in input order. Empty
    spans are ignored; spans are clamped to the range.
    """
    spans = [(max(0, s), min(e, length), x) for s, e, x in spans]
    spans = [(s, e, x) for s, e, x in spans if s < e]
    cuts = sorted({0, length, *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    opens: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    for i, (s, e, _) in enumerate(spans):
        opens.setdefault(s, []).append(i)
        closes.setdefault(e, []).append(i)
    active: set[int] = set()
    out = []
    for a, b in zip(cuts, cuts[1:]):
        active.difference_update(closes.get(a, ()))
        active.update(opens.get(a, ()))
        out.append((a, b, [spans[i][2] for i in sorted(active)]))
    return out


def _fmt_age(a: float | None) -> str:
    return age_text(a, missing="—", years="years")


def _words(value: Any) -> str:
    return words(value) if value is not None else "—"


def _field_name(name: str) -> str:
    return FIELD_NAMES.get(name, name.replace("_", " "))


def _treatment_label(t) -> str:
    return f"treatment: {t.name} ({t.role}, {_words(t.response)})"


class FactIndex:
    """Every fact of a summary, keyed by where it sits in the record, with its evidence marks."""

    def __init__(self, summary: CaseSummary, text: str):
        self.summary, self.text = summary, text
        self.facts: dict[tuple, Fact] = {}
        self.marks: list[Mark] = []
        s = summary.study
        for f in STUDY_FIELDS:
            if getattr(s, f) is not None:
                self._new(("study", f), "study", f"Study · {_field_name(f)}: {_show(getattr(s, f))}", f != "design")
        for i, p in enumerate(summary.patients):
            self._patient_facts(i, p)
        for n, (path, ev) in enumerate(summary.evidence_items()):
            fact = self._owner(path, ev)
            start, end = max(0, min(ev.start, len(text))), max(0, min(ev.end, len(text)))
            mark = Mark(f"e{n}", ev, fact, start, end, holds(ev, text))
            fact.marks.append(mark)
            self.marks.append(mark)

    def _new(self, key: tuple, kind: str, label: str, expects_evidence: bool = True) -> Fact:
        fact = Fact(f"f{len(self.facts) + 1}", kind, label, expects_evidence=expects_evidence)
        self.facts[key] = fact
        return fact

    def _patient_facts(self, i: int, p: Patient) -> None:
        who = self.patient_label(i)
        for f in DEMO_FIELDS:
            value = getattr(p, f)
            if value is not None:
                shown = _fmt_age(value) if f.startswith("age") else value
                self._new((i, f), "demo", f"{who} · {_field_name(f)}: {shown}", f != "label")
        for f, noun in LIST_FIELDS.items():
            for j, item in enumerate(getattr(p, f)):
                self._new((i, f, j), "manif", f"{who} · {noun}: {item}")
        for j, fd in enumerate(p.findings):
            self._new((i, "findings", j), "finding", f"{who} · finding: {fd.name} — {fd.result}")
        for j, t in enumerate(p.treatments):
            self._new((i, "treatments", j), "treat", f"{who} · {_treatment_label(t)}")
        o = p.outcome
        self._new((i, "outcome"), "outcome", f"{who} · outcome: {_words(o.status)}" + (f" ({o.description})" if o.description else ""),
                  o.status != "not_reported" or bool(o.description))
        ae = p.adverse_events
        self._new((i, "adverse_events"), "ae", f"{who} · adverse events: {_words(ae.status)}" + (f" ({', '.join(ae.events)})" if ae.events else ""),
                  ae.status != "not_reported")

    def patient_label(self, i: int) -> str:
        return self.summary.patients[i].label or f"Patient {i + 1}"

    def _owner(self, path: str, ev: Evidence) -> Fact:
        """The fact an evidence item supports; evidence for a field with no fact of its own gets one."""
        if path == "study":
            return self.facts.get(("study", ev.field)) or self._other("study", ev.field, "study", "Study")
        m = _PATH.match(path)
        if not m:  # an owner this viewer does not know: still shown, with the study
            return self._other("study", path, "study", "Study")
        i = int(m.group(1))
        if m.group(2):
            return self.facts[(i, m.group(2), int(m.group(3)))]
        if m.group(4):
            return self.facts[(i, m.group(4))]
        if ev.field in LIST_FIELDS:
            items = getattr(self.summary.patients[i], ev.field)
            if items:  # the item the quote is most like
                j = max(range(len(items)), key=lambda j: fuzz.token_set_ratio(items[j].lower(), ev.quote.lower()))
                return self.facts[(i, ev.field, j)]
            return self._other(i, ev.field, "manif", self.patient_label(i))
        return self.facts.get((i, ev.field)) or self._other(i, ev.field, "demo", self.patient_label(i))

    def _other(self, owner: int | str, name: str | None, kind: str, who: str) -> Fact:
        """The fact for quotes of ``owner``'s field ``name`` when the record has no value for it."""
        key = ("other", owner, name)
        label = f"{who} · {_field_name(name)} (no value in the record)" if name else f"{who} · other evidence"
        return self.facts.get(key) or self._new(key, kind, label)

    def get(self, *key) -> Fact | None:
        return self.facts.get(tuple(key))

    def other(self, owner: int | str, name: str | None) -> Fact | None:
        return self.facts.get(("other", owner, name))

    def extra(self, owner: int | str, known: Iterable[str]) -> list[Fact]:
        """Facts for quotes of ``owner`` (``"study"`` or a patient index) whose field is not in ``known``."""
        return [f for k, f in self.facts.items() if k[0] == "other" and k[1] == owner and k[2] not in known]

    def segments(self) -> list[Segment]:
        pieces = segment(len(self.text), ((m.start, m.end, m) for m in self.marks))
        return [Segment(self.text[a:b], a, b, marks) for a, b, marks in pieces]


# ---------------------------------------------------------------------------
# The record as rows (predicted, and gold when given)


@dataclass
class Item:
    text: str
    fact: Fact | None = None


@dataclass
class Row:
    name: str
    items: list[Item]
    gold: str | None = None  # None: no gold column
    status: str = ""  # "match" | "mismatch" | ""


def _show(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, dict) and "any_of" in value:
        return " | ".join(_show(v) for v in value["any_of"])
    if isinstance(value, list):
        return "; ".join(_show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if value in DESIGNS:
        return value.replace("_", " ")
    return _words(value) if isinstance(value, str) else str(value)


def _status(counts) -> str:
    if counts.fp or counts.fn:
        return "mismatch"
    return "match" if counts.tp else ""


class GoldView:
    """Gold values and match marks beside the predicted ones (all methods are no-ops without gold)."""

    def __init__(self, gold: dict | None):
        self.gold = gold

    def scalar(self, name: str, pred: Any, g: Any) -> tuple[str | None, str]:
        from .scoring import score_scalar

        if self.gold is None:
            return None, ""
        return _show(g), _status(score_scalar(name, pred, g))

    def listing(self, pred: list, g: list | None) -> tuple[str | None, str]:
        from .scoring import score_list

        if self.gold is None:
            return None, ""
        return _show(g or []), _status(score_list(pred, g or [])[0])


def _by_name(pred: list, gold: list) -> dict[int, int]:
    """Pair predicted with gold findings/treatments by name, as the scorer does."""
    from .scoring import same_name, score_list

    return dict(score_list(pred, gold, same_name)[1])


def _scalar_row(gv: GoldView, name: str, pred: Any, gold_obj: dict | None, fact: Fact | None, shown: str | None = None) -> Row:
    g, status = gv.scalar(name, pred, (gold_obj or {}).get(name))
    quoted = fact is not None and fact.has_evidence  # a quote for a value the record left empty still shows
    items = [Item(shown if shown is not None else _show(pred), fact)] if pred is not None or quoted else []
    return Row(_field_name(name).capitalize(), items, g, status)


def _document_rows(summary: CaseSummary, gv: GoldView) -> list[Row]:
    d = summary.document.model_dump()
    gd = (gv.gold or {}).get("document") or {}
    rows = []
    for f in DOCUMENT_FIELDS:
        if isinstance(d[f], list):
            g, status = gv.listing(d[f], gd.get(f))
            row = Row(_field_name(f).capitalize(), [Item(x) for x in d[f]], g, status)
        else:
            row = _scalar_row(gv, f, d[f], gd, None)
        if row.items or (row.gold not in (None, "—")):
            rows.append(row)
    return rows


def _study_rows(summary: CaseSummary, idx: FactIndex, gv: GoldView) -> list[Row]:
    s = summary.study
    gs = (gv.gold or {}).get("study") or {}
    rows = [_scalar_row(gv, f, getattr(s, f), gs, idx.get("study", f) or idx.other("study", f)) for f in STUDY_FIELDS]
    rows += [Row("Other evidence", [Item(f.label, f)]) for f in idx.extra("study", STUDY_FIELDS)]
    return rows


@dataclass
class PatientView:
    title: str
    gold_label: str | None
    note: str  # e.g. "no gold partner"
    rows: list[Row]
    findings: list[dict]
    treatments: list[dict]
    outcome: list[Row]
    adverse: list[Row]
    gold_only: bool = False


def _patient_view(i: int | None, p: Patient | None, g: dict | None, idx: FactIndex, gv: GoldView) -> PatientView:
    """One patient card: predicted ``p`` (index ``i``) beside its gold partner ``g`` (either may be missing)."""
    pd = p.model_dump() if p else {}
    fact = (lambda *k: idx.get(i, *k) or (idx.other(i, k[0]) if len(k) == 1 else None)) if p else (lambda *k: None)
    rows = []
    for f in DEMO_FIELDS:
        v = pd.get(f)
        shown = _fmt_age(v) if f.startswith("age") and v is not None else None
        rows.append(_scalar_row(gv, f, v, g, fact(f), shown))
    for f in LIST_FIELDS:
        items = [Item(x, fact(f, j)) for j, x in enumerate(pd.get(f) or [])]
        if p and idx.other(i, f):  # quotes for an empty list
            items.append(Item("—", idx.other(i, f)))
        gl, status = gv.listing(pd.get(f) or [], (g or {}).get(f))
        rows.append(Row(_field_name(f).capitalize(), items, gl, status))
    if p:
        rows += [Row("Other evidence", [Item(x.label, x)]) for x in idx.extra(i, [*DEMO_FIELDS, *LIST_FIELDS])]

    from .scoring import score_scalar

    gf = (g or {}).get("findings") or []
    pairs = _by_name(pd.get("findings") or [], gf)
    findings = []
    for j, fd in enumerate(pd.get("findings") or []):
        gj = pairs.get(j)
        gold_res = None if gv.gold is None else ("(not in gold)" if gj is None else _show(gf[gj].get("result")))
        status = "" if gv.gold is None else ("mismatch" if gj is None else _status(score_scalar("result", fd["result"], gf[gj].get("result"))))
        findings.append({"name": fd["name"], "result": fd["result"], "fact": fact("findings", j), "gold": gold_res, "status": status})
    for gj in sorted(set(range(len(gf))) - set(pairs.values())):
        findings.append({"name": _show(gf[gj].get("name")), "result": "", "fact": None, "gold": _show(gf[gj].get("result")), "status": "missing"})

    gt = (g or {}).get("treatments") or []
    pairs = _by_name(pd.get("treatments") or [], gt)
    treatments = []
    for j, t in enumerate(pd.get("treatments") or []):
        gj = pairs.get(j)
        cells = {c: _show(t[c]) for c in TREATMENT_COLUMNS}
        gold_cells = status = None
        if gv.gold is not None and gj is not None:
            gold_cells = {"name": _show(gt[gj].get("name")), **{c: _show(gt[gj].get(c)) for c in TREATMENT_COLUMNS}}
            status = {c: _status(score_scalar(c, t[c], gt[gj].get(c))) for c in TREATMENT_COLUMNS}
        treatments.append({"n": j + 1, "name": t["name"], "cells": cells, "fact": fact("treatments", j),
                           "gold": gold_cells, "status": status, "unmatched": gv.gold is not None and gj is None})
    for gj in sorted(set(range(len(gt))) - set(pairs.values())):
        gold_cells = {"name": _show(gt[gj].get("name")), **{c: _show(gt[gj].get(c)) for c in TREATMENT_COLUMNS}}
        treatments.append({"n": None, "name": None, "cells": None, "fact": None, "gold": gold_cells, "status": None, "unmatched": False})

    po, go = pd.get("outcome") or {}, (g or {}).get("outcome")
    outcome = [
        _scalar_row(gv, "status", po.get("status"), go, fact("outcome")),
        _scalar_row(gv, "description", po.get("description"), go, fact("outcome")),
    ]
    pa, ga = pd.get("adverse_events") or {}, (g or {}).get("adverse_events")
    ev_gold, ev_status = gv.listing(pa.get("events") or [], (ga or {}).get("events"))
    adverse = [
        _scalar_row(gv, "status", pa.get("status"), ga, fact("adverse_events")),
        Row("Events", [Item(x, fact("adverse_events")) for x in pa.get("events") or []], ev_gold, ev_status),
    ]
    title = p.label if p else _show((g or {}).get("label"))
    gold_label = _show(g.get("label")) if g is not None else None
    note = "" if gv.gold is None or (p and g) else ("no gold partner" if p else "in gold, not found")
    return PatientView(title, gold_label, note, rows, findings, treatments, outcome, adverse, gold_only=p is None)


# ---------------------------------------------------------------------------
# Rendering


def _source_text(value: str) -> Markup:
    """Escape source text for the page; CR becomes a character reference so the DOM keeps it
    (an HTML parser turns raw CR LF into LF)."""
    return escape(value).replace("\r", Markup("&#13;"))


def _signed(x: float | None, digits: int = 3) -> str:
    """``+0.012`` / ``-0.400`` / ``+0.000`` (never ``-0.000``)."""
    if x is None:
        return ""
    r = round(x, digits)
    return f"{r if r else 0.0:+.{digits}f}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("summarizer", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["srctext"] = _source_text
    env.filters["pct"] = lambda x: "—" if x is None else f"{100 * x:.1f}%"
    env.filters["num"] = lambda x, d=3: "—" if x is None else f"{x:.{d}f}"
    env.filters["signed"] = _signed
    env.filters["trend"] = lambda x, d=3: "" if x is None or not round(x, d) else ("up" if x > 0 else "down")
    env.filters["width"] = lambda x: f"{max(0.0, min(1.0, x or 0.0)) * 100:.1f}%"
    return env


_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def render_html(summary: CaseSummary, text: str, *, title: str | None = None, gold: dict | None = None,
                back_href: str | None = None) -> str:
    """The evidence viewer for one summary of ``text``, as one self-contained HTML page.

    ``gold`` (a gold file's dict) adds gold values beside the predicted ones and the
    document's score; ``back_href`` adds a link back (used by the eval report).
    """
    from .scoring import pair_patients, score_document

    idx = FactIndex(summary, text)
    gv = GoldView(gold)
    patients: list[PatientView] = []
    score = None
    if gold is None:
        patients = [_patient_view(i, p, None, idx, gv) for i, p in enumerate(summary.patients)]
    else:
        gp = gold.get("patients") or []
        partner = dict(pair_patients([p.model_dump() for p in summary.patients], gp))
        patients = [_patient_view(i, p, gp[partner[i]] if i in partner else None, idx, gv) for i, p in enumerate(summary.patients)]
        patients += [_patient_view(None, None, gp[j], idx, gv) for j in range(len(gp)) if j not in set(partner.values())]
        score = score_document(summary, gold, text)
    segments = idx.segments()
    facts = [f for f in idx.facts.values() if f.has_evidence]
    kinds = {k: sum(1 for f in facts if f.kind == k) for k in KINDS}
    data = {"facts": {f.id: {"label": f.label, "kind": f.kind, "ev": [m.id for m in f.visible_marks]} for f in facts}}
    prov = summary.provenance
    return _env().get_template("viewer.html.j2").render(
        title=title or summary.document.title or prov.input.id or "Case summary",
        s=summary,
        prov=prov,
        segments=segments,
        kinds=KINDS,
        kind_counts=kinds,
        marks=idx.marks,
        n_fuzzy=sum(1 for m in idx.marks if m.ev.alignment == "fuzzy"),
        n_bad=sum(1 for m in idx.marks if not m.ok),
        document_rows=_document_rows(summary, gv),
        study_rows=_study_rows(summary, idx, gv),
        patients=patients,
        gold=gold,
        gold_km=(gold or {}).get("key_message") or {},
        score=score,
        data=data,
        back_href=back_href,
        treatment_columns=TREATMENT_COLUMNS,
    )


def write_html(summary: CaseSummary, text: str, path: str | Path, **kw: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8; parent folders are created)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(summary, text, **kw), encoding="utf-8", errors="replace")
    return p


def html_filename(doc_id: str) -> str:
    return safe_filename(doc_id, ".html")


# ---------------------------------------------------------------------------
# The eval report


def _read_source(path: Path) -> str | None:
    from .reader import InputError, decode_bytes

    try:
        return decode_bytes(Path(path).read_bytes(), str(path))[0]
    except (OSError, InputError):
        return None


def eval_report_html(results: dict, baseline: dict | None, verdict, summaries: dict[str, CaseSummary],
                     docs: Sequence, path: str | Path) -> None:
    """Write the HTML eval report to ``path`` and one viewer page per document into ``<stem>_docs/``."""
    from .evaluation import describe_run, field_table

    out = Path(path)
    pages = out.parent / f"{out.stem}_docs"
    pages.mkdir(parents=True, exist_ok=True)
    links: dict[str, str] = {}
    for d in docs:
        summary = summaries.get(d.id)
        text = _read_source(d.text_path) if summary is not None else None
        if summary is None or text is None:
            continue
        name = html_filename(d.id)
        write_html(summary, text, pages / name, title=d.id, gold=d.gold, back_href="../" + _urlquote(out.name))
        links[d.id] = f"{_urlquote(pages.name)}/{_urlquote(name)}"

    base_docs = (baseline or {}).get("documents") or {}
    documents = []
    for doc_id, d in sorted((results.get("documents") or {}).items()):
        b = base_docs.get(doc_id) or {}
        f1 = (d.get("overall") or {}).get("f1")
        bf1 = (b.get("overall") or {}).get("f1") if not b.get("error") else None
        documents.append({
            "id": doc_id, "href": links.get(doc_id), "error": d.get("error"), "f1": f1,
            "delta": None if f1 is None or bf1 is None else f1 - bf1,
            "mm": (d.get("key_message") or {}).get("must_mention_recall"),
            "grounding": d.get("grounding"), "mismatches": len(d.get("mismatches") or []),
        })
    fields = [{"name": n, "p": p, "r": r, "f1": f, "n": n_gold, "delta": delta}
              for n, p, r, f, n_gold, delta in field_table(results, baseline)] if results.get("per_field") else []
    km, bkm = results.get("key_message") or {}, (baseline or {}).get("key_message") or {}
    km_rows = [(label, km.get(k), bkm.get(k) if baseline else None, digits, better) for label, k, digits, better in (
        ("Must-mention recall", "must_mention_recall", 3, "up"), ("Faithfulness", "faithfulness", 3, "up"),
        ("Flesch-Kincaid grade", "fk_grade", 1, "down"), ("Words", "words", 1, None))]
    overall = (results.get("overall") or {}).get("f1")
    base_overall = ((baseline or {}).get("overall") or {}).get("f1")
    page = _env().get_template("eval_report.html.j2").render(
        r=results,
        run_line=describe_run(results),
        baseline_line=describe_run(baseline) if baseline else None,
        overall=overall,
        overall_delta=None if overall is None or base_overall is None else overall - base_overall,
        base_overall=base_overall,
        km_rows=km_rows,
        verdict=verdict,
        fields=fields,
        documents=documents,
    )
    out.write_text(page, encoding="utf-8", errors="replace")


__all__ = ["render_html", "write_html", "html_filename", "eval_report_html", "segment", "FactIndex", "KINDS"]
