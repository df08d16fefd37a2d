"""Plain-language key message composed from a record, with templates and a lay glossary.

Used by the offline backend (and as a fallback when an LLM gives none). It
says what was done, to whom, what happened, and how weak the evidence from a
handful of patients is, in one to three sentences. It states nothing that is
not in the record: every drug, disease and number comes from a record field,
and lay words come from ``data/glossary.tsv`` glosses of those fields.
"""

from __future__ import annotations

import re
from collections import Counter

from .models import CaseSummary, KeyMessage, Patient, Treatment
from .vocab import fold_key, glossary

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
_ROUTE_LAY = {"oral": "by mouth", "intravenous": "into a vein", "subcutaneous": "as injections under the skin",
              "topical": "on the skin", "intramuscular": "as injections into a muscle"}


def gloss(term: str) -> str:
    """A lay rendering of a term: the glossary entry for it (or for its last words), else the term."""
    g = glossary()
    key = fold_key(term)
    if key in g:
        return g[key]
    for i in range(1, len(key)):
        if key[i:] in g:
            lay = g[key[i:]]
            return lay if term.lower() in lay.lower() else f"{term} ({_strip_paren(lay)})" if "(" not in lay else lay
    return term


def _strip_paren(s: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", s).strip()


def lay_term(term: str) -> str:
    """Gloss with the technical term kept, so readers can look it up: 'dead tissue on the fingers (digital necrosis)'."""
    lay = gloss(term)
    if lay.lower() == term.lower() or term.lower() in lay.lower():
        return lay
    return f"{lay} ({term})"


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _count_word(n: int, capital: bool = False) -> str:
    w = _WORDS.get(n, str(n))
    return w.capitalize() if capital else w


def _people(patients: list[Patient], n: int) -> str:
    ages = [p.age_years for p in patients if p.age_years is not None]
    sexes = {p.sex for p in patients}
    if n == 1:
        p = patients[0] if patients else None
        age = p.age_years if p else None
        child = age is not None and age < 18
        if p and p.sex == "female":
            return "girl" if child else "woman"
        if p and p.sex == "male":
            return "boy" if child else "man"
        if age is not None and age < 2:
            return "baby"
        return "child" if child else "patient"
    if ages and len(ages) == len(patients) and all(a < 18 for a in ages):
        return "children"
    if ages and len(ages) == len(patients) and all(a >= 18 for a in ages):
        if sexes == {"female"}:
            return "women"
        if sexes == {"male"}:
            return "men"
        return "adults"
    return "patients"


def _index(p: Patient) -> Treatment | None:
    return next((t for t in p.treatments if t.role == "index"), None)


def _outcome_phrase(status: str, descriptions: list[str]) -> str:
    text = " ".join(descriptions).lower()
    if status == "resolved":
        if "heal" in text:
            return "healed completely"
        if "remission" in text:
            return "went into remission"
        return "got completely better"
    if status == "improved":
        return "improved"
    if status == "no_change":
        return "did not improve"
    if status == "worsened":
        return "got worse"
    if status == "died":
        return "died"
    return ""


def _what_improved(descriptions: list[str]) -> tuple[str, str]:
    """(what got better, what did not) from outcome descriptions such as
    'improvement of mainly the cutaneous lesions; no recovery of muscle strength'."""
    better, worse = "", ""
    for d in descriptions:
        for part in d.split(";"):
            part = part.strip()
            m = re.search(r"\b(?:improvement|resolution|healing|recovery|regression)\s+(?:of|in)\s+(?:mainly\s+)?(?:the\s+)?(.+)$", part, re.I)
            if not m:
                continue
            target = re.sub(r"^(?:her|his|their)\s+", "", m.group(1)).strip()
            if re.match(r"^(?:no|none|without|not)\b", part, re.I):
                worse = worse or target
            else:
                better = better or target
    return better, worse


def compose(summary: CaseSummary) -> KeyMessage:
    study, patients = summary.study, summary.patients
    n = len(patients) or (study.n_patients or 0)
    condition = study.condition
    if not patients:
        return _no_patients(summary)

    people = _people(patients, n)
    index_names = Counter(t.name for p in patients if (t := _index(p)))
    intervention = study.intervention or (index_names.most_common(1)[0][0] if index_names else None)
    routes = {t.route for p in patients if (t := _index(p)) and t.route}

    # Sentence 1: who, with what, and what was done.
    if n == 1:
        article = "An" if people[0] in "aeiou" else "A"
        p = patients[0]
        age = p.age_years
        who = f"{article} {people}"
        if age is not None and age >= 1 and float(age).is_integer():
            who = f"{article} {int(age)}-year-old {people}"
    else:
        who = f"{_count_word(n, capital=True)} {people}"
    what = f" with {lay_term(condition)}" if condition else ""
    problem = study.problem
    if problem:
        what += f" and {lay_term(problem)}"
    elif not problem:
        shared = [m for m, c in Counter(m for p in patients for m in p.manifestations).most_common(2)]
        if shared:
            what += f" ({_join([gloss(m) for m in shared])})"
    prior = []
    for p in patients:
        for t in p.treatments:
            if t.role == "prior" and t.response in ("no_change", "worsened") and t.name not in prior:
                prior.append(t.name)
    s1 = who + what
    if prior:
        s1 += f" did not get better with {_join(prior[:3])}"
        s1 += ", then" if intervention else ""
    if intervention:
        verb = "were" if n > 1 else "was"
        route = ""
        if len(routes) == 1:
            r = next(iter(routes))
            if r in _ROUTE_LAY and r not in gloss(intervention).lower() and _ROUTE_LAY[r] not in gloss(intervention):
                route = f" {_ROUTE_LAY[r]}"
        s1 += f" {verb if not prior else ''} given {gloss(intervention)}{route}".replace("  ", " ")
    s1 = s1.strip() + "."

    # Sentence 2: what happened.
    statuses = [p.outcome.status for p in patients]
    descriptions = [p.outcome.description for p in patients if p.outcome.description]
    s2 = ""
    counts = Counter(s for s in statuses if s != "not_reported")
    if counts:
        if len(counts) == 1:
            status = next(iter(counts))
            subject = "The patient" if n == 1 else ("Both" if n == 2 else "All of them") if counts[status] == n else f"{_count_word(counts[status], capital=True)} of them"
            s2 = f"{subject} {_outcome_phrase(status, descriptions)}"
            courses = sorted({t.courses for p in patients if (t := _index(p)) and t.courses})
            if status in ("resolved", "improved") and courses:
                unit = "course" if courses == [1] else "courses"
                s2 += f" after {_join([str(c) for c in courses])} {unit} of treatment" if len(courses) <= 3 else ""
            better, worse = _what_improved(descriptions)
            if status == "improved" and better:
                s2 = f"{subject} improved, mainly their {gloss(better)}" if n > 1 else f"The patient improved, mainly the {gloss(better)}"
            if worse:
                s2 += f", but {gloss(worse)} did not recover"
        else:
            parts = [f"{_count_word(c)} {_outcome_phrase(s, descriptions)}" for s, c in counts.most_common()]
            s2 = "Of these patients, " + _join(parts)
    ae = [p.adverse_events for p in patients]
    if all(a.status == "none" for a in ae):
        s2 = (s2 + ", and no side effects were reported") if s2 else "No side effects were reported"
    elif any(a.status == "present" for a in ae):
        events = sorted({e for a in ae for e in a.events})
        if events:
            s2 = (s2 + "; side effects included " if s2 else "Side effects included ") + _join([gloss(e) for e in events[:3]])
    if s2:
        s2 = s2[0].upper() + s2[1:] + "."

    # Sentence 3: how sure we can be.
    if n == 1:
        s3 = "This is a single case, so it shows what is possible rather than proving that the treatment works."
    else:
        s3 = f"This report covers only {_count_word(n)} patients, so it shows what is possible rather than proving that the treatment works."
    plain = " ".join(s for s in (s1, s2, s3) if s)
    return KeyMessage(plain_language=_tidy(plain), clinical=_clinical(summary, prior, intervention))


def _no_patients(summary: CaseSummary) -> KeyMessage:
    study = summary.study
    kind = {"review": "review of published reports", "trial": "clinical trial", "cohort": "study of a group of patients"}.get(
        study.design, "report"
    )
    about = f" about {lay_term(study.condition)}" if study.condition else ""
    treat = f" and {gloss(study.intervention)}" if study.intervention else ""
    n = f" of {study.n_patients} patients" if study.n_patients else ""
    s1 = f"This is a {kind}{n}{about}{treat}."
    s2 = "It does not describe individual patients, so this summary cannot say what happened to any one person."
    return KeyMessage(plain_language=_tidy(f"{s1} {s2}"), clinical=None)


def _clinical(summary: CaseSummary, prior: list[str], intervention: str | None) -> str | None:
    study = summary.study
    if not intervention:
        return None
    n = len(summary.patients)
    parts = [f"{n} patient{'s' if n != 1 else ''}"]
    if study.condition:
        parts.append(f"with {study.condition}" + (f" and {study.problem}" if study.problem else ""))
    if prior:
        parts.append(f"refractory to {_join(prior)}")
    statuses = Counter(p.outcome.status for p in summary.patients)
    outcome = _join([f"{s.replace('_', ' ')} ({c})" for s, c in statuses.most_common()])
    return _tidy(f"{' '.join(parts)} received {intervention}; outcome: {outcome}.")


def _tidy(s: str) -> str:
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"\s+([,.;])", r"\1", s)
    return s.strip()
