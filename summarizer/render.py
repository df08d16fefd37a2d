"""Rendering a CaseSummary: JSON, Markdown, and a readable terminal view.

Renderers only read the record; they never look at the source again.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any, TextIO

from .models import CaseSummary, Patient, Treatment

_PLAIN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_filename(doc_id: str, suffix: str) -> str:
    """A safe file name for a document id: plain lowercase ids are kept (``dev01_x.html``);
    any other id becomes an ASCII slug plus a hash of the id (``a_b_c.txt--1f2e3d4c5b.html``),
    so distinct ids never share a name, even on case-insensitive file systems."""
    if _PLAIN_ID.match(doc_id) and not re.search(r"--[0-9a-f]{10}$", doc_id) and doc_id.split(".")[0] not in _WINDOWS_RESERVED:
        return f"{doc_id}{suffix}"
    ascii_id = unicodedata.normalize("NFKD", doc_id).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9._-]+", "_", ascii_id).strip("._-")[:60] or "document"
    digest = hashlib.sha256(doc_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}--{digest}{suffix}"


def words(value: object) -> str:
    """An enum value as words: "no_change" -> "no change"."""
    return str(value).replace("_", " ")


def age_text(age: float | None, *, missing: str = "age ?", years: str = "y") -> str:
    """"11 y"; under two, months or days ("18 months", "12 days")."""
    if age is None:
        return missing
    if age < 2 and not float(age).is_integer():
        months = round(age * 12, 1)
        return f"{months:g} months" if months >= 1 else f"{round(age * 365.25):g} days"
    return f"{age:g} {years}"


def adverse_text(p: Patient) -> str:
    """"present: headache, nausea", "none", "not reported"."""
    ae = p.adverse_events
    return words(ae.status) + (f": {', '.join(ae.events)}" if ae.events else "")


def to_json(summary: CaseSummary, *, id: str | None = None, indent: int | None = 2) -> str:
    data: dict[str, Any] = summary.model_dump(mode="json")
    if id is not None:
        data = {"id": id, **data}
    return json.dumps(data, ensure_ascii=False, indent=indent)


def _treatment_line(t: Treatment) -> str:
    bits = [t.name]
    extra = [x for x in (t.dose, t.route, t.duration) if x]
    if t.courses:
        extra.append(f"{t.courses} course{'s' if t.courses != 1 else ''}")
    if extra:
        bits.append(f"({', '.join(extra)})")
    bits.append(f"[{t.role}] -> {words(t.response)}")
    return " ".join(bits)


def to_markdown(summary: CaseSummary, *, id: str | None = None) -> str:
    d, s = summary.document, summary.study
    out = [f"# {d.title or id or 'Untitled case report'}", ""]
    cite = ", ".join(x for x in [d.journal, str(d.year) if d.year else None, d.volume and f"vol. {d.volume}", d.issue, d.pages] if x)
    if d.authors:
        out.append(f"**Authors:** {', '.join(d.authors)}  ")
    if cite:
        out.append(f"**Source:** {cite}  ")
    if d.doi:
        out.append(f"**DOI:** [{d.doi}](https://doi.org/{d.doi})  ")
    if d.venue:
        out.append(f"**Venue:** {d.venue}  ")
    out += [
        "",
        f"**Design:** {s.design.replace('_', ' ')} · **Patients:** {s.n_patients if s.n_patients is not None else '?'}"
        f" · **Condition:** {s.condition or '?'}" + (f" · **Problem:** {s.problem}" if s.problem else "")
        + (f" · **Intervention:** {s.intervention}" if s.intervention else "")
        + (f" · **Follow-up:** {s.follow_up}" if s.follow_up else ""),
        "",
        "## Key message",
        "",
        summary.key_message.plain_language or "_none_",
        "",
    ]
    if summary.key_message.clinical:
        out += [f"_For clinicians:_ {summary.key_message.clinical}", ""]
    if summary.patients:
        out += ["## Patients", "", "| Patient | Age | Sex | Index treatment | Response | Outcome | Adverse events |", "|---|---|---|---|---|---|---|"]
        for p in summary.patients:
            index = p.index_treatment
            out.append(
                f"| {p.label} | {age_text(p.age_years)} | {p.sex or '?'} | {index.name if index else '-'} | "
                f"{words(index.response) if index else '-'} | {words(p.outcome.status)} | {adverse_text(p)} |"
            )
        for p in summary.patients:
            out += ["", f"### {p.label}", ""]
            if p.comorbidities:
                out.append(f"- **Comorbidities:** {', '.join(p.comorbidities)}")
            if p.manifestations:
                out.append(f"- **Manifestations:** {', '.join(p.manifestations)}")
            for f in p.findings:
                out.append(f"- **Finding:** {f.name}: {f.result}")
            for t in p.treatments:
                out.append(f"- **Treatment:** {_treatment_line(t)}")
            if p.outcome.description:
                out.append(f"- **Outcome:** {p.outcome.description}")
    if summary.provenance.warnings:
        out += ["", "## Warnings", ""] + [f"- {w}" for w in summary.provenance.warnings]
    prov = summary.provenance
    out += ["", f"<sub>{prov.backend}{' / ' + prov.model if prov.model else ''} · {prov.created_at or ''}</sub>", ""]
    return "\n".join(out)


def print_terminal(summary: CaseSummary, file: TextIO, *, id: str | None = None) -> None:
    """A compact, readable view for a terminal (rich when available)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False, soft_wrap=False)
    d, s = summary.document, summary.study
    head = Text(d.title or id or "Untitled case report", style="bold")
    sub = " · ".join(
        x for x in [
            s.design.replace("_", " "),
            f"{s.n_patients} patient{'s' if s.n_patients != 1 else ''}" if s.n_patients is not None else None,
            s.condition, s.intervention and f"intervention: {s.intervention}",
            d.journal and f"{d.journal} {d.year or ''}".strip(), d.doi,
        ] if x
    )
    body = Text()
    body.append(sub + "\n", style="dim")
    if summary.patients:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("patient", "age", "sex", "index treatment", "response", "outcome", "adverse events"):
            table.add_column(col)
        for p in summary.patients:
            index = p.index_treatment
            table.add_row(
                p.label, age_text(p.age_years), p.sex or "?", index.name if index else "-",
                words(index.response) if index else "-", words(p.outcome.status), adverse_text(p),
            )
    console.print(Panel(body if not summary.patients else Text.assemble(body), title=head, title_align="left"))
    if summary.patients:
        console.print(table)
    console.print()
    console.print(Text("Key message: ", style="bold") + Text(summary.key_message.plain_language))
    for w in summary.provenance.warnings[:5]:
        console.print(Text(f"warning: {w}", style="yellow"))
    console.print()
