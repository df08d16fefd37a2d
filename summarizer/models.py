"""The case-summary contract as pydantic models.

These models are the source of truth for the output of every backend; the
JSON Schema in ``schemas/case_summary.schema.json`` is exported from them
(``python -m summarizer.schema``) and a test fails when the two drift apart.

Field names and vocabularies follow ``CONTRACT.md`` exactly. Extensions are
optional fields only (``Evidence.alignment``, ``Evidence.field``,
``Study.evidence``, ``Provenance.warnings``...).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "1.0"

Design = Literal["case_report", "case_series", "cohort", "trial", "review", "other"]
Response = Literal["resolved", "improved", "no_change", "worsened", "died", "not_reported"]
Role = Literal["prior", "index", "concomitant"]
Sex = Literal["female", "male"]
AdverseStatus = Literal["none", "present", "not_reported"]
Alignment = Literal["exact", "fuzzy"]



RESPONSES: tuple[str, ...] = Response.__args__  # type: ignore[attr-defined]
DESIGNS: tuple[str, ...] = Design.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    # Replies from other tools (or an LLM) may carry fields we do not know:
    # they are ignored, never an error.
    model_config = ConfigDict(extra="ignore")


class Evidence(_Model):
    """A verbatim quote from the input and where it is: ``text[start:end] == quote``."""

    quote: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    alignment: Alignment = Field(
        default="exact",
        description="How the quote was found in the source: exact substring or fuzzy match snapped to the source span.",
    )
    field: Optional[str] = Field(
        default=None,
        description="Which fact of the owning record this quote supports (e.g. 'age_years', 'manifestations', 'response').",
    )

    @model_validator(mode="after")
    def _ordered(self) -> "Evidence":
        if self.end < self.start:
            raise ValueError(f"evidence end {self.end} is before start {self.start}")
        return self


EvidenceList = list[Evidence]


class Document(_Model):
    title: Optional[str] = None
    authors: list[str] = Field(default_factory=list)
    affiliations: list[str] = Field(default_factory=list)
    journal: Optional[str] = None
    year: Optional[int] = None
    volume: Optional[str] = None
    issue: Optional[str] = None
    pages: Optional[str] = None
    doi: Optional[str] = None
    published: Optional[str] = None
    venue: Optional[str] = None
    section: Optional[str] = None
    keywords: list[str] = Field(default_factory=list)
    conflict_of_interest: Optional[str] = None


class Study(_Model):
    design: Design = "other"
    n_patients: Optional[int] = Field(default=None, ge=0)
    condition: Optional[str] = None
    problem: Optional[str] = None
    intervention: Optional[str] = None
    follow_up: Optional[str] = None
    evidence: EvidenceList = Field(default_factory=list)


class Finding(_Model):
    name: str
    result: str
    evidence: EvidenceList = Field(default_factory=list)


class Treatment(_Model):
    name: str
    role: Role = "index"
    response: Response = "not_reported"
    courses: Optional[int] = Field(default=None, ge=0)
    dose: Optional[str] = None
    route: Optional[str] = None
    duration: Optional[str] = None
    evidence: EvidenceList = Field(default_factory=list)


class Outcome(_Model):
    status: Response = "not_reported"
    description: Optional[str] = None
    evidence: EvidenceList = Field(default_factory=list)


class AdverseEvents(_Model):
    status: AdverseStatus = "not_reported"
    events: list[str] = Field(default_factory=list)
    evidence: EvidenceList = Field(default_factory=list)


class Patient(_Model):
    label: str
    age_years: Optional[float] = Field(default=None, ge=0)
    sex: Optional[Sex] = None
    age_at_onset_years: Optional[float] = Field(default=None, ge=0)
    comorbidities: list[str] = Field(default_factory=list)
    manifestations: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    treatments: list[Treatment] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=Outcome)
    adverse_events: AdverseEvents = Field(default_factory=AdverseEvents)
    evidence: EvidenceList = Field(default_factory=list)

    @property
    def index_treatment(self) -> Optional[Treatment]:
        """The treatment the report is about for this patient (role ``index``), if any."""
        return next((t for t in self.treatments if t.role == "index"), None)


class KeyMessage(_Model):
    plain_language: str = ""
    clinical: Optional[str] = None


class PromptInfo(_Model):
    name: str
    version: str
    sha256: str


class Usage(_Model):
    requests: int = Field(default=0, description="HTTP requests sent (retries and re-asks included)")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_requests: int = Field(default=0, description="requests answered from the response cache (cost nothing)")

    def add(self, other: "Usage") -> "Usage":
        return Usage(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_requests=self.cached_requests + other.cached_requests,
        )


class InputInfo(_Model):
    path: Optional[str] = None
    id: Optional[str] = None
    sha256: Optional[str] = None
    chars: Optional[int] = None


class Provenance(_Model):
    backend: str = "unknown"
    model: Optional[str] = None
    prompt: Optional[PromptInfo] = None
    created_at: Optional[str] = None
    usage: Usage = Field(default_factory=Usage)
    input: InputInfo = Field(default_factory=InputInfo)
    warnings: list[str] = Field(default_factory=list)
    summarizer_version: Optional[str] = None


class CaseSummary(_Model):
    schema_version: str = SCHEMA_VERSION
    document: Document = Field(default_factory=Document)
    study: Study = Field(default_factory=Study)
    patients: list[Patient] = Field(default_factory=list)
    key_message: KeyMessage = Field(default_factory=KeyMessage)
    provenance: Provenance = Field(default_factory=Provenance)

    def evidence_owners(self) -> list[tuple[str, Any]]:
        """Every object that carries an ``evidence`` list, with a dotted path to it."""
        out: list[tuple[str, Any]] = [("study", self.study)]
        for i, p in enumerate(self.patients):
            base = f"patients[{i}]"
            out.append((base, p))
            out += [(f"{base}.findings[{j}]", f) for j, f in enumerate(p.findings)]
            out += [(f"{base}.treatments[{j}]", t) for j, t in enumerate(p.treatments)]
            out += [(f"{base}.outcome", p.outcome), (f"{base}.adverse_events", p.adverse_events)]
        return out

    def evidence_items(self) -> list[tuple[str, Evidence]]:
        """Every evidence item with a dotted path to the fact that owns it."""
        return [(where, e) for where, owner in self.evidence_owners() for e in owner.evidence]
