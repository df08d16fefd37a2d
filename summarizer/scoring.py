"""Score a CaseSummary against a gold annotation (the contract's scoring rules).

    from summarizer.scoring import score_document, load_gold
    result = score_document(predicted_summary, load_gold("gold.json"), source_text)
    result.f1, result.per_field["patients.age_years"].f1

Rules (CONTRACT.md, "Scoring"):

* Facts are non-null values. A scalar field gives a true positive when both
  sides agree, a false positive for a predicted value gold does not have (or a
  wrong one) and a false negative for a gold value missed (or got wrong).
  ``{"any_of": [...]}`` accepts any listed value; when it lists ``null``,
  predicting nothing costs nothing.
* Numbers: ages within 0.05, counts and years exactly. Enums exactly. Strings
  after normalisation (unicode, case, whitespace, punctuation) are equal,
  synonyms of one vocabulary entry (IVIG = intravenous immunoglobulins), or
  close by fuzzy ratio (``FUZZY_THRESHOLD``). Free-text descriptions (outcome
  description) are paraphrases, compared by token-set ratio
  (``DESCRIPTION_THRESHOLD``) when both have three words or more.
* Lists (authors, keywords, comorbidities, manifestations, findings,
  treatments, adverse events): optimal one-to-one matching, then each matched
  pair is a true positive. Findings match on name and their result is a
  fact of its own; treatments match on name and role, response, courses,
  dose, route and duration are facts of their own.
* Patients are paired by the assignment that maximises agreement on label,
  age and sex; the facts of an unpaired patient are all misses or false
  positives.
* Key message: must-mention recall, faithfulness (the share of numbers and
  drug/disease mentions that occur in the source), Flesch-Kincaid grade and
  word count. Grounding: the share of evidence quotes equal to
  ``text[start:end]``.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rapidfuzz import fuzz

from .grounding import holds, numbers_in, source_numbers
from .keymessage import gloss
from .models import CaseSummary
from .textview import TextView
from .vocab import NUMBER_WORDS, clinical_lexicon

FUZZY_THRESHOLD = 85
DESCRIPTION_THRESHOLD = 80  # token-set ratio for free-text descriptions
AGE_TOLERANCE = 0.05

DOCUMENT_SCALARS = ["title", "journal", "year", "volume", "issue", "pages", "doi", "published", "venue", "section", "conflict_of_interest"]
DOCUMENT_LISTS = ["authors", "affiliations", "keywords"]
STUDY_SCALARS = ["design", "n_patients", "condition", "problem", "intervention", "follow_up"]
PATIENT_SCALARS = ["label", "age_years", "sex", "age_at_onset_years"]
PATIENT_LISTS = ["comorbidities", "manifestations"]
TREATMENT_FACTS = ["role", "response", "courses", "dose", "route", "duration"]
ENUM_FIELDS = {"design", "sex", "role", "response", "status"}
DESCRIPTIVE_FIELDS = {"description"}
NUMBER_FIELDS = {"year": 0, "n_patients": 0, "courses": 0, "age_years": AGE_TOLERANCE, "age_at_onset_years": AGE_TOLERANCE}


# ---------------------------------------------------------------------------
# Counts


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Counts") -> "Counts":
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class KeyMessageScore:
    must_mention_recall: float | None
    missing_concepts: list[str]
    faithfulness: float
    unsupported: list[str]
    fk_grade: float
    words: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "must_mention_recall": None if self.must_mention_recall is None else round(self.must_mention_recall, 4),
            "missing_concepts": self.missing_concepts,
            "faithfulness": round(self.faithfulness, 4),
            "unsupported": self.unsupported,
            "fk_grade": round(self.fk_grade, 2),
            "words": self.words,
        }


@dataclass
class DocumentScore:
    per_field: dict[str, Counts] = field(default_factory=dict)
    key_message: KeyMessageScore | None = None
    grounding: float = 1.0
    evidence_items: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def overall(self) -> Counts:
        total = Counts()
        for c in self.per_field.values():
            total.add(c)
        return total

    @property
    def f1(self) -> float:
        return self.overall.f1

    def count(self, name: str, c: Counts) -> None:
        self.per_field.setdefault(name, Counts()).add(c)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "per_field": {k: v.as_dict() for k, v in sorted(self.per_field.items())},
            "key_message": self.key_message.as_dict() if self.key_message else None,
            "grounding": round(self.grounding, 4),
            "evidence_items": self.evidence_items,
            "mismatches": self.mismatches,
        }


# ---------------------------------------------------------------------------
# Value comparison


def normalise(value: Any) -> str:
    s = unicodedata.normalize("NFKC", str(value)).lower()
    s = s.replace("\u2013", "-").replace("\u2014", "-")
    s = re.sub(r"[^\w\s]", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def _vocab_keys(value: str) -> set[str]:
    lex = clinical_lexicon()
    matches = lex.find(value)
    if len(matches) == 1 and matches[0].end - matches[0].start >= len(value.strip()) - 2:
        return {e.canonical.lower() for e in matches[0].entries}
    return set()


def strings_match(a: str, b: str) -> bool:
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return True
    if not na or not nb:
        return False
    if fuzz.ratio(na, nb) >= FUZZY_THRESHOLD:
        return True
    ka, kb = _vocab_keys(a), _vocab_keys(b)
    return bool(ka and kb and ka & kb)


def value_matches(field_name: str, pred: Any, gold: Any) -> bool:
    if pred is None or gold is None:
        return pred is None and gold is None
    if field_name in NUMBER_FIELDS:
        try:
            return abs(float(pred) - float(gold)) <= NUMBER_FIELDS[field_name] + 1e-9
        except (TypeError, ValueError):
            return False
    if field_name in ENUM_FIELDS:
        return str(pred) == str(gold)
    if field_name in DESCRIPTIVE_FIELDS:
        return descriptions_match(str(pred), str(gold))
    return strings_match(str(pred), str(gold))


def descriptions_match(a: str, b: str) -> bool:
    """Free-text descriptions are paraphrases: they match when the shorter one's words
    are (nearly) all in the longer one (token-set ratio), and it says something (3+ words)."""
    na, nb = normalise(a), normalise(b)
    if strings_match(a, b):
        return True
    if min(len(na.split()), len(nb.split())) < 3:
        return False
    return fuzz.token_set_ratio(na, nb) >= DESCRIPTION_THRESHOLD


def options(gold: Any) -> list[Any]:
    if isinstance(gold, dict) and "any_of" in gold:
        return list(gold["any_of"])
    return [gold]


def score_scalar(field_name: str, pred: Any, gold: Any) -> Counts:
    opts = options(gold)
    non_null = [o for o in opts if o is not None]
    if pred is None:
        return Counts(fn=0 if (None in opts or not non_null) else 1)
    if any(value_matches(field_name, pred, o) for o in non_null):
        return Counts(tp=1)
    if not non_null:
        return Counts(fp=1)
    return Counts(fp=1, fn=0 if None in opts else 1)


def match_lists(pred: list[Any], gold: list[Any], similar) -> list[tuple[int, int]]:
    """Optimal one-to-one matching (maximum number of similar pairs)."""
    edges = [(i, j) for i, p in enumerate(pred) for j, g in enumerate(gold) if similar(p, g)]
    if not edges:
        return []
    # augmenting paths (bipartite maximum matching)
    adj: dict[int, list[int]] = {}
    for i, j in edges:
        adj.setdefault(i, []).append(j)
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in adj.get(i, []):
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in adj:
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


def score_list(pred: list[Any], gold: list[Any], similar=None) -> tuple[Counts, list[tuple[int, int]]]:
    similar = similar or (lambda p, g: any(strings_match(str(p), str(o)) for o in options(g) if o is not None))
    pairs = match_lists(pred, gold, similar)
    return Counts(tp=len(pairs), fp=len(pred) - len(pairs), fn=len(gold) - len(pairs)), pairs


# ---------------------------------------------------------------------------
# Gold files


def load_gold(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def first_options(obj: Any) -> Any:
    """The gold with every ``any_of`` replaced by its first option (for validation)."""
    if isinstance(obj, dict):
        if set(obj) == {"any_of"}:
            return first_options(obj["any_of"][0]) if obj["any_of"] else None
        return {k: first_options(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [first_options(v) for v in obj]
    return obj


def any_of_variants(obj: Any) -> Iterable[Any]:
    """Copies of the gold, each with one ``any_of`` set to one of its options (others first)."""
    paths: list[tuple[tuple, list]] = []

    def walk(o: Any, path: tuple) -> None:
        if isinstance(o, dict):
            if set(o) == {"any_of"}:
                paths.append((path, o["any_of"]))
                return
            for k, v in o.items():
                walk(v, path + (k,))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + (i,))

    walk(obj, ())
    base = first_options(obj)
    yield base
    for path, opts in paths:
        for opt in opts[1:]:
            variant = json.loads(json.dumps(base))
            target = variant
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = first_options(opt)
            yield variant


def gold_as_summary_dict(gold: dict[str, Any]) -> dict[str, Any]:
    """A gold file in CaseSummary shape (key message reference as plain_language)."""
    g = dict(gold)
    km = g.get("key_message") or {}
    g["key_message"] = {"plain_language": km.get("reference", ""), "clinical": None}
    return g


def validate_gold(gold: dict[str, Any]) -> None:
    """Raise pydantic.ValidationError when any option of the gold breaks the contract."""
    for variant in any_of_variants(gold_as_summary_dict(gold)):
        CaseSummary.model_validate(variant)


# ---------------------------------------------------------------------------
# Patients


def _patient_similarity(p: dict, g: dict) -> float:
    s = 0.0
    if p.get("label") and any(o and strings_match(p["label"], o) for o in options(g.get("label"))):
        s += 1
    if p.get("age_years") is not None and any(value_matches("age_years", p["age_years"], o) for o in options(g.get("age_years")) if o is not None):
        s += 1
    if p.get("sex") is not None and any(value_matches("sex", p["sex"], o) for o in options(g.get("sex")) if o is not None):
        s += 0.5
    return s


def pair_patients(pred: list[dict], gold: list[dict]) -> list[tuple[int, int]]:
    """The pairing of predicted to gold patients that maximises agreement (label, age, sex)."""
    if not pred or not gold:
        return []
    sim = [[_patient_similarity(p, g) for g in gold] for p in pred]
    n, m = len(pred), len(gold)
    if min(n, m) <= 7 and max(n, m) <= 9:
        best, best_pairs = -1.0, []
        if n <= m:
            for perm in itertools.permutations(range(m), n):
                total = sum(sim[i][perm[i]] for i in range(n)) - 1e-6 * sum(abs(i - perm[i]) for i in range(n))
                if total > best:
                    best, best_pairs = total, [(i, perm[i]) for i in range(n)]
        else:
            for perm in itertools.permutations(range(n), m):
                total = sum(sim[perm[j]][j] for j in range(m)) - 1e-6 * sum(abs(j - perm[j]) for j in range(m))
                if total > best:
                    best, best_pairs = total, sorted((perm[j], j) for j in range(m))
        return best_pairs
    # large series: greedy by similarity, then text order
    pairs, used_p, used_g = [], set(), set()
    for s, i, j in sorted(((sim[i][j], i, j) for i in range(n) for j in range(m)), key=lambda x: (-x[0], abs(x[1] - x[2]))):
        if i not in used_p and j not in used_g:
            pairs.append((i, j))
            used_p.add(i)
            used_g.add(j)
    return sorted(pairs)


def _count_patient_facts(doc: DocumentScore, p: dict, side: str) -> None:
    """All facts of an unpaired patient are false positives (pred) or misses (gold)."""

    def bump(name: str, value: Any) -> None:
        vals = options(value)
        if all(v is None for v in vals):
            return
        doc.count(name, Counts(fp=1) if side == "pred" else Counts(fn=1))

    for f in PATIENT_SCALARS:
        bump(f"patients.{f}", p.get(f))
    for f in PATIENT_LISTS:
        for v in p.get(f) or []:
            bump(f"patients.{f}", v)
    for fd in p.get("findings") or []:
        bump("patients.findings", fd.get("name"))
        bump("patients.findings.result", fd.get("result"))
    for t in p.get("treatments") or []:
        bump("patients.treatments", t.get("name"))
        for f in TREATMENT_FACTS:
            bump(f"patients.treatments.{f}", t.get(f))
    bump("patients.outcome.status", (p.get("outcome") or {}).get("status"))
    bump("patients.outcome.description", (p.get("outcome") or {}).get("description"))
    ae = p.get("adverse_events") or {}
    bump("patients.adverse_events.status", ae.get("status"))
    for e in ae.get("events") or []:
        bump("patients.adverse_events.events", e)


def _score_fields(doc: DocumentScore, group: str, where: str, p: dict, g: dict, scalars: list[str], lists: list[str]) -> None:
    """Score a record's scalar and list fields, noting each mismatch."""
    for f in scalars:
        c = score_scalar(f, p.get(f), g.get(f))
        doc.count(f"{group}.{f}", c)
        if c.fp or c.fn:
            doc.mismatches.append(f"{where}.{f}: predicted {p.get(f)!r}, gold {g.get(f)!r}")
    for f in lists:
        c, _ = score_list(p.get(f) or [], g.get(f) or [])
        doc.count(f"{group}.{f}", c)
        if c.fp or c.fn:
            doc.mismatches.append(f"{where}.{f}: predicted {p.get(f)}, gold {g.get(f)}")


def same_name(pred: dict, gold: dict) -> bool:
    """A predicted finding/treatment and a gold one are the same when their names match."""
    return any(strings_match(pred["name"], o) for o in options(gold["name"]) if o)


def _score_patient(doc: DocumentScore, p: dict, g: dict, where: str) -> None:
    _score_fields(doc, "patients", where, p, g, PATIENT_SCALARS, PATIENT_LISTS)

    # findings: match on name, then the result is a fact of its own
    pf, gf = p.get("findings") or [], g.get("findings") or []
    c, pairs = score_list(pf, gf, same_name)
    doc.count("patients.findings", c)
    for i, j in pairs:
        doc.count("patients.findings.result", score_scalar("result", pf[i].get("result"), gf[j].get("result")))
    matched_p = {i for i, _ in pairs}
    matched_g = {j for _, j in pairs}
    doc.count("patients.findings.result", Counts(fp=sum(1 for i, f in enumerate(pf) if i not in matched_p and f.get("result")),
                                                 fn=sum(1 for j, f in enumerate(gf) if j not in matched_g and f.get("result"))))
    if c.fp or c.fn:
        doc.mismatches.append(f"{where}.findings: predicted {[f['name'] for f in pf]}, gold {[f['name'] for f in gf]}")

    # treatments: match on name, then role/response/courses/dose/route/duration
    pt, gt = p.get("treatments") or [], g.get("treatments") or []
    c, pairs = score_list(pt, gt, same_name)
    doc.count("patients.treatments", c)
    if c.fp or c.fn:
        doc.mismatches.append(f"{where}.treatments: predicted {[t['name'] for t in pt]}, gold {[t['name'] for t in gt]}")
    for i, j in pairs:
        for f in TREATMENT_FACTS:
            cc = score_scalar(f, pt[i].get(f), gt[j].get(f))
            doc.count(f"patients.treatments.{f}", cc)
            if cc.fp or cc.fn:
                doc.mismatches.append(f"{where}.treatments[{gt[j]['name']}].{f}: predicted {pt[i].get(f)!r}, gold {gt[j].get(f)!r}")
    matched_p = {i for i, _ in pairs}
    matched_g = {j for _, j in pairs}
    for f in TREATMENT_FACTS:
        doc.count(f"patients.treatments.{f}", Counts(
            fp=sum(1 for i, t in enumerate(pt) if i not in matched_p and t.get(f) is not None),
            fn=sum(1 for j, t in enumerate(gt) if j not in matched_g and any(o is not None for o in options(t.get(f))) and None not in options(t.get(f))),
        ))

    for part, scalars, lists in (("outcome", ["status", "description"], []), ("adverse_events", ["status"], ["events"])):
        _score_fields(doc, f"patients.{part}", f"{where}.{part}", p.get(part) or {}, g.get(part) or {}, scalars, lists)


# ---------------------------------------------------------------------------
# Key message


def concept_present(text: str, forms: list[str]) -> bool:
    for form in forms:
        f = form.strip()
        if f.endswith("*"):
            pattern = rf"\b{re.escape(f[:-1])}\w*"
        else:
            pattern = rf"\b{re.escape(f)}\b"
        if re.search(pattern, text, re.I):
            return True
    return False


@functools.lru_cache(maxsize=1)
def _hyphenator():
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def flesch_kincaid_grade(text: str) -> float:
    """Flesch-Kincaid grade level; syllables from pyphen's hyphenation dictionary.

    (textstat >= 0.7.5 counts syllables with NLTK's cmudict, which it downloads
    at run time; this tool never needs the network, so it counts them the way
    textstat's own fallback does.)
    """
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    if not words:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text.strip())) or 1)
    hy = _hyphenator()
    syllables = sum(max(1, len(hy.positions(w.lower())) + 1) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


def score_key_message(message: str, gold_km: dict | None, source: str) -> KeyMessageScore:
    must = (gold_km or {}).get("must_mention") or []
    missing = [" / ".join(c) for c in must if not concept_present(message, c)]
    recall = (len(must) - len(missing)) / len(must) if must else None

    supported, unsupported = 0, []
    src_nums = source_numbers(source)
    for n in numbers_in(message):
        if n.replace(",", ".") in src_nums:
            supported += 1
        else:
            unsupported.append(n)
    for w, v in NUMBER_WORDS.items():
        if w == "one":
            continue  # "one of the patients" is no claim about a number
        for _ in re.finditer(rf"\b{w}\b", message, re.I):
            if str(v) in src_nums:
                supported += 1
            else:
                unsupported.append(w)
    analysed = TextView(source).text  # "INTRA VENOUS" reads as "INTRAVENOUS"
    src_lower = analysed.lower()
    lex = clinical_lexicon()
    src_matches = lex.find(analysed)
    src_keys = {e.canonical.lower() for m in src_matches for e in m.entries}
    # words a plain-language gloss of a source term brings ("an immune disease that ...")
    glosses = " ".join(gloss(m.surface).lower() for m in src_matches)
    for m in lex.find(message):
        if not m.has("drug", "drug_class", "disease"):
            continue
        surface = m.surface.lower()
        if surface in src_lower or any(e.canonical.lower() in src_keys for e in m.entries) or surface in glosses:
            supported += 1
        else:
            unsupported.append(m.surface)
    total = supported + len(unsupported)
    faith = supported / total if total else 1.0
    words = len(re.findall(r"\b[\w'-]+\b", message))
    grade = flesch_kincaid_grade(message)
    return KeyMessageScore(recall, missing, faith, unsupported, float(grade), words)


# ---------------------------------------------------------------------------
# Grounding


def grounding_rate(summary: CaseSummary, source: str) -> tuple[float, int]:
    items = summary.evidence_items()
    if not items:
        return 1.0, 0
    ok = sum(1 for _, e in items if holds(e, source))
    return ok / len(items), len(items)


# ---------------------------------------------------------------------------
# A whole document


def score_document(pred: CaseSummary | dict, gold: dict[str, Any], source: str | None = None) -> DocumentScore:
    if isinstance(pred, dict):
        pred = CaseSummary.model_validate(pred)
    p = pred.model_dump()
    doc = DocumentScore()
    _score_fields(doc, "document", "document", p["document"], gold.get("document") or {}, DOCUMENT_SCALARS, DOCUMENT_LISTS)
    _score_fields(doc, "study", "study", p["study"], gold.get("study") or {}, STUDY_SCALARS, [])

    pp, gp = p["patients"], gold.get("patients") or []
    pairs = pair_patients(pp, gp)
    for i, j in pairs:
        _score_patient(doc, pp[i], gp[j], f"patients[{gp[j].get('label', j)}]")
    for i in set(range(len(pp))) - {i for i, _ in pairs}:
        _count_patient_facts(doc, pp[i], "pred")
        doc.mismatches.append(f"patients: predicted patient {pp[i].get('label')!r} has no gold partner")
    for j in set(range(len(gp))) - {j for _, j in pairs}:
        _count_patient_facts(doc, gp[j], "gold")
        doc.mismatches.append(f"patients: gold patient {gp[j].get('label')!r} was not found")

    if source is not None:
        doc.grounding, doc.evidence_items = grounding_rate(pred, source)
        doc.key_message = score_key_message(pred.key_message.plain_language, gold.get("key_message"), source)
    return doc


@dataclass
class SuiteScore:
    documents: dict[str, DocumentScore]

    @property
    def per_field(self) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for d in self.documents.values():
            for k, c in d.per_field.items():
                out.setdefault(k, Counts()).add(c)
        return out

    @property
    def overall(self) -> Counts:
        total = Counts()
        for d in self.documents.values():
            total.add(d.overall)
        return total

    def key_message_means(self) -> dict[str, float]:
        kms = [d.key_message for d in self.documents.values() if d.key_message]
        recalls = [k.must_mention_recall for k in kms if k.must_mention_recall is not None]
        if not kms:
            return {}
        return {
            "must_mention_recall": round(sum(recalls) / len(recalls), 4) if recalls else 1.0,
            "faithfulness": round(sum(k.faithfulness for k in kms) / len(kms), 4),
            "fk_grade": round(sum(k.fk_grade for k in kms) / len(kms), 2),
            "words": round(sum(k.words for k in kms) / len(kms), 1),
        }

    def grounding(self) -> float:
        items = sum(d.evidence_items for d in self.documents.values())
        if not items:
            return 1.0
        return sum(d.grounding * d.evidence_items for d in self.documents.values()) / items

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "per_field": {k: v.as_dict() for k, v in sorted(self.per_field.items())},
            "key_message": self.key_message_means(),
            "grounding": round(self.grounding(), 4),
            "documents": {k: v.as_dict() for k, v in sorted(self.documents.items())},
        }
