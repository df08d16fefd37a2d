"""The response model an LLM fills, and the validation that grounds it.

Field names are the contract's (``document``, ``study``, ``patients``,
``key_message``; every fact with ``evidence`` quotes). The model gives quotes;
the code computes offsets. A reply that already carries ``start``/``end`` or
fields we did not ask for is accepted (unknown fields are ignored).

Validation, run by pydantic inside instructor's re-ask loop, checks:

* every quote aligns with the source (exact, else normalised/fuzzy; see
  ``grounding.align``) and every fact has at least one such quote;
* ``study.n_patients`` agrees with the patients listed;
* a patient's ``sex`` is backed by a quote that states it;
* every number in the key message occurs in the source.

Each failure becomes one precise line ("quote '...' does not occur in the
source"), which instructor sends back to the model. When the re-ask budget is
spent, ``salvage`` keeps what is grounded, drops the rest and lists every drop
as a provenance warning.

The source text reaches the validators through a ``ContextVar``, not
instructor's ``context`` argument: instructor also renders message templates
with that argument, and an abstract may contain ``{{ ... }}``.
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Optional, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .grounding import Alignment, align, numbers_in, source_numbers
from .models import (
    AdverseEvents,
    AdverseStatus,
    CaseSummary,
    Design,
    Document,
    Evidence,
    Finding,
    KeyMessage,
    Outcome,
    Patient,
    Response,
    Role,
    Sex,
    Study,
    Treatment,
)
from .vocab import SEX_NOUNS, SEX_PRONOUNS

# a quote states the sex with a pronoun, a noun, or M/F notation ("45 F")
_SEX_WORDS = {sex: r"\b(?:" + "|".join(SEX_PRONOUNS[sex] + SEX_NOUNS[sex] + (sex[0],)) + r")\b" for sex in SEX_NOUNS}


@dataclass
class GroundingContext:
    """What the validators need: the source, whether to salvage, and what was dropped."""

    text: str
    salvage: bool = False
    warnings: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict)


CURRENT: contextvars.ContextVar[GroundingContext | None] = contextvars.ContextVar("summarizer_grounding", default=None)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")
    _grounded: list = PrivateAttr(default_factory=list)  # aligned Evidence, filled by check_reply


def _empty_if_none(v: Any) -> Any:
    return [] if v is None else v


T = TypeVar("T")
# Local models often write null for an empty list.
Items = Annotated[list[T], BeforeValidator(_empty_if_none)]


class QuoteIn(_In):
    quote: str = Field(description="Words copied exactly from the document that state the fact.")
    start: Optional[int] = None
    end: Optional[int] = None


class FindingIn(_In):
    name: str
    result: str
    evidence: Items[QuoteIn] = Field(default_factory=list)


class TreatmentIn(_In):
    name: str = Field(description="As written in the document.")
    role: Role = "index"
    response: Response = "not_reported"
    courses: Optional[int] = None
    dose: Optional[str] = None
    route: Optional[str] = None
    duration: Optional[str] = None
    evidence: Items[QuoteIn] = Field(default_factory=list)


class OutcomeIn(_In):
    status: Response = "not_reported"
    description: Optional[str] = None
    evidence: Items[QuoteIn] = Field(default_factory=list)


class AdverseEventsIn(_In):
    status: AdverseStatus = "not_reported"
    events: Items[str] = Field(default_factory=list)
    evidence: Items[QuoteIn] = Field(default_factory=list)


class PatientIn(_In):
    label: str
    age_years: Optional[float] = None
    sex: Optional[Sex] = None
    age_at_onset_years: Optional[float] = None
    comorbidities: Items[str] = Field(default_factory=list)
    manifestations: Items[str] = Field(default_factory=list)
    findings: Items[FindingIn] = Field(default_factory=list)
    treatments: Items[TreatmentIn] = Field(default_factory=list)
    outcome: OutcomeIn = Field(default_factory=OutcomeIn)
    adverse_events: AdverseEventsIn = Field(default_factory=AdverseEventsIn)
    evidence: Items[QuoteIn] = Field(default_factory=list, description="Quotes for age, sex, comorbidities and manifestations.")


class StudyIn(_In):
    design: Design = "other"
    n_patients: Optional[int] = None
    condition: Optional[str] = None
    problem: Optional[str] = None
    intervention: Optional[str] = None
    follow_up: Optional[str] = None


class DocumentIn(Document):
    model_config = ConfigDict(extra="ignore")

    @field_validator("authors", "affiliations", "keywords", mode="before")
    @classmethod
    def _none_list(cls, v):
        return [] if v is None else v


class KeyMessageIn(_In):
    plain_language: str = ""
    clinical: Optional[str] = None


class CaseSummaryReply(_In):
    """A grounded summary of one clinical case report (field names of the CaseSummary contract)."""

    document: DocumentIn = Field(default_factory=DocumentIn)
    study: StudyIn = Field(default_factory=StudyIn)
    patients: Items[PatientIn] = Field(default_factory=list)
    key_message: KeyMessageIn = Field(default_factory=KeyMessageIn)

    @model_validator(mode="after")
    def _check_grounding(self) -> "CaseSummaryReply":
        ctx = CURRENT.get()
        if ctx is None:  # validated outside a backend (e.g. in a test): nothing to check against
            return self
        problems = check_reply(self, ctx)
        if problems and not ctx.salvage:
            raise ValueError(
                "the summary is not grounded in the document:\n"
                + "\n".join(f"- {p}" for p in problems[:20])
                + ("\n- ..." if len(problems) > 20 else "")
                + "\nCopy every quote character for character from the document, or remove the fact."
            )
        return self


# ---------------------------------------------------------------------------
# Checks


def _ground_quotes(items: list[QuoteIn], ctx: GroundingContext, where: str, problems: list[str]) -> list[Evidence]:
    out: list[Evidence] = []
    for q in items:
        if not q.quote or not q.quote.strip():
            continue
        a: Alignment | None = align(q.quote, ctx.text, q.start, ctx.cache)
        if a is None:
            problems.append(f"{where}: quote {_short(q.quote)} does not occur in the source")
            continue
        out.append(Evidence(quote=ctx.text[a.start : a.end], start=a.start, end=a.end, alignment=a.kind))
    return out


def _short(s: str, n: int = 90) -> str:
    s = " ".join(s.split())
    return repr(s if len(s) <= n else s[: n - 1] + "…")


def _ground_records(records: list, kind: str, where: str, ctx: GroundingContext, problems: list[str]) -> list:
    """Ground each finding or treatment; in salvage mode keep only those with a quote."""
    kept = []
    for j, r in enumerate(records):
        w = f"{where}.{kind}[{j}] ({r.name})"
        n_before = len(problems)
        r._grounded = _ground_quotes(r.evidence, ctx, w, problems)
        if not r._grounded and len(problems) == n_before:
            problems.append(f"{w}: has no evidence quote")
        if r._grounded or not ctx.salvage:
            kept.append(r)
        else:
            ctx.warnings.append(f"dropped {w}: no quote could be found in the source")
    return kept


def check_reply(reply: CaseSummaryReply, ctx: GroundingContext) -> list[str]:
    """Ground every fact; store the aligned evidence on the reply; return the problems found.

    In salvage mode the ungrounded facts are removed (and listed in ``ctx.warnings``)."""
    problems: list[str] = []
    text = ctx.text
    kept_patients = []
    for i, p in enumerate(reply.patients):
        where = f"patients[{i}] ({p.label})"
        p._grounded = _ground_quotes(p.evidence, ctx, where, problems)
        p.findings = _ground_records(p.findings, "findings", where, ctx, problems)
        p.treatments = _ground_records(p.treatments, "treatments", where, ctx, problems)
        for attr, empty in (("outcome", OutcomeIn), ("adverse_events", AdverseEventsIn)):
            rec = getattr(p, attr)
            w = f"{where}.{attr}"
            n_before = len(problems)
            ev = _ground_quotes(rec.evidence, ctx, w, problems)
            if rec.status != "not_reported" and not ev:
                if len(problems) == n_before:
                    problems.append(f"{w}: status {rec.status!r} has no evidence quote")
                if ctx.salvage:
                    ctx.warnings.append(f"reset {w} to not_reported: no quote could be found in the source")
                    rec = empty()
                    setattr(p, attr, rec)
            rec._grounded = ev
        if p.sex is not None:
            quotes = " ".join(e.quote for e in p._grounded)
            if not re.search(_SEX_WORDS[p.sex], quotes, re.I):
                problems.append(
                    f"{where}: sex is {p.sex!r} but none of the patient's quotes states it; "
                    "add the words that say so (e.g. 'she', 'a 45-year-old woman') or set sex to null"
                )
                if ctx.salvage:
                    ctx.warnings.append(f"{where}: sex {p.sex!r} removed: no quote states it")
                    p.sex = None
        kept_patients.append(p)
    reply.patients = kept_patients

    n = reply.study.n_patients
    if reply.patients and n is not None and n != len(reply.patients):
        problems.append(f"study.n_patients is {n} but {len(reply.patients)} patients are listed one by one")
        if ctx.salvage:
            ctx.warnings.append(f"study.n_patients {n} corrected to {len(reply.patients)}, the patients listed")
            reply.study.n_patients = len(reply.patients)

    unsupported = unsupported_numbers(reply.key_message.plain_language, text)
    if unsupported:
        problems.append(
            "key_message.plain_language mentions "
            + ", ".join(repr(u) for u in unsupported)
            + ", which "
            + ("does" if len(unsupported) == 1 else "do")
            + " not occur in the source; use only numbers the document states"
        )
        if ctx.salvage:
            ctx.warnings.append("key message replaced: it stated numbers that are not in the source")
            reply.key_message = KeyMessageIn()
    return problems


def unsupported_numbers(message: str, source: str) -> list[str]:
    src = source_numbers(source)
    return sorted({n for n in numbers_in(message) if n.replace(",", ".") not in src})


# ---------------------------------------------------------------------------
# Conversion to the contract


def _ev(obj: Any, field_name: str | None = None) -> list[Evidence]:
    items = getattr(obj, "_grounded", None) or []
    return [e.model_copy(update={"field": field_name}) if field_name else e for e in items]


def to_case_summary(reply: CaseSummaryReply) -> CaseSummary:
    """The contract record (evidence with offsets) from a grounded reply."""
    patients = []
    for p in reply.patients:
        patients.append(
            Patient(
                label=p.label,
                age_years=p.age_years,
                sex=p.sex,
                age_at_onset_years=p.age_at_onset_years,
                comorbidities=p.comorbidities,
                manifestations=p.manifestations,
                findings=[Finding(name=f.name, result=f.result, evidence=_ev(f, "finding")) for f in p.findings],
                treatments=[
                    Treatment(**t.model_dump(exclude={"evidence"}), evidence=_ev(t)) for t in p.treatments
                ],
                outcome=Outcome(status=p.outcome.status, description=p.outcome.description, evidence=_ev(p.outcome, "status")),
                adverse_events=AdverseEvents(
                    status=p.adverse_events.status, events=p.adverse_events.events, evidence=_ev(p.adverse_events, "status")
                ),
                evidence=_ev(p),
            )
        )
    return CaseSummary(
        document=Document(**reply.document.model_dump()),
        study=Study(**reply.study.model_dump()),
        patients=patients,
        key_message=KeyMessage(plain_language=reply.key_message.plain_language, clinical=reply.key_message.clinical),
    )
