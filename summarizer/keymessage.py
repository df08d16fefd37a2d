"""Plain-language key message composed from a record, with templates and a lay glossary.

Used by the offline backend (and as a fallback when an LLM gives none). Three
sentences at most, each from a template:

1. who, with what:      "Two adults had dermatomyositis (...) with dead tissue on the
                         fingers that did not get better with A, B and C."
2. what was done, what happened:
                        "They were then given X, and both healed completely after
                         3 and 4 courses, with no side effects reported."
3. how sure we can be:  "This report covers only two patients, so ..."

It states nothing that is not in the record: every drug, disease and number
comes from a record field, and lay words come from ``data/glossary.tsv``
glosses of those fields.
"""

from __future__ import annotations

import re
from collections import Counter

from .models import CaseSummary, KeyMessage, Patient
from .vocab import NUMBER_WORDS, fold_key, glossary, tokens

_WORDS = {v: w for w, v in NUMBER_WORDS.items() if v <= 10}
_ROUTE_LAY = {"oral": "by mouth", "intravenous": "into a vein", "subcutaneous": "as injections under the skin",
              "topical": "on the skin", "intramuscular": "as injections into a muscle", "intrathecal": "into the spinal fluid"}
_MAX_GLOSS_WORDS = 12


def gloss(term: str) -> str:
    """A lay rendering of a term: its glossary entry, else its words glossed one by one
    where the glossary has a short plain word for them ("cutaneous lesions" -> "skin lesions")."""
    g = glossary()
    key = fold_key(term)
    if key in g:
        return g[key]
    toks = tokens(term)
    if len(toks) > 2:
        return term  # "acute promyelocytic leukemia": half-translated names help nobody
    out, changed = [], False
    for tok, _, _ in toks:
        lay = g.get(fold_key(tok))
        if lay and "(" not in lay and len(lay.split()) <= 2:
            out.append(lay)
            changed = True
        else:
            out.append(tok)
    return " ".join(out) if changed else term


def _with_gloss(term: str, *, lay_first: bool = False) -> str:
    """The term as the source writes it, with the glossary's explanation when there is a short
    one: 'acyclovir (an antiviral medicine)'. ``lay_first`` puts a plain rewording first:
    'blood clots (thrombosis)'. Never a respelling that drops the source word."""
    lay = gloss(term)
    if lay.lower() == term.lower() or (lay_first and len(lay.split()) > _MAX_GLOSS_WORDS):
        return term
    if term.lower() in lay.lower():
        return lay
    explained = re.search(r"\(([^)]*)\)", lay)  # "pemphigus (an immune disease...)" for "pemphigus vulgaris"
    if lay_first and not explained:
        return f"{lay} ({term})"
    explanation = explained.group(1) if explained else lay
    if len(explanation.split()) > _MAX_GLOSS_WORDS:
        return term
    return f"{term} ({explanation})"


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
        if age is not None and age < 2:
            return "baby girl" if p and p.sex == "female" else "baby boy" if p and p.sex == "male" else "baby"
        if p and p.sex == "female":
            return "girl" if child else "woman"
        if p and p.sex == "male":
            return "boy" if child else "man"
        return "child" if child else "patient"
    known = len(ages) == len(patients)
    if known and all(a < 2 for a in ages):
        return "babies"
    if known and all(a < 18 for a in ages):
        return "children"
    if known and all(a >= 18 for a in ages):
        return "women" if sexes == {"female"} else "men" if sexes == {"male"} else "adults"
    return "patients"


def _pronoun(patients: list[Patient]) -> tuple[str, str]:
    """(subject, verb 'was/were') for the patients."""
    if len(patients) != 1:
        return "They", "were"
    return {"female": "She", "male": "He"}.get(patients[0].sex or "", "The patient"), "was"


def _outcome_phrase(status: str, descriptions: list[str]) -> str:
    text = " ".join(descriptions).lower()
    if status == "resolved":
        if "heal" in text:
            return "healed completely"
        if "remission" in text:
            return "went into remission"
        return "recovered fully" if "recover" in text else "got completely better"
    return {
        "improved": "improved",
        "no_change": "did not improve",
        "worsened": "got worse",
        "died": "died",
    }.get(status, "")


def _what_changed(descriptions: list[str]) -> tuple[str, str]:
    """(what got better, what did not) from outcome descriptions such as
    'improvement of mainly the cutaneous lesions; no recovery of muscle strength'."""
    better, worse = "", ""
    for d in descriptions:
        for part in d.split(";"):
            part = part.strip()
            m = re.search(r"\b(?:improvement|resolution|healing|recovery|regression)\s+(?:of|in)\s+(?:mainly\s+)?(?:the\s+|her\s+|his\s+|their\s+)?(.+)$", part, re.I)
            if not m:
                continue
            target = m.group(1).strip()
            if len(target.split()) > 5:
                continue
            if re.match(r"^(?:no|none|without|not)\b", part, re.I):
                worse = worse or target
            else:
                better = better or target
    return better, worse


def compose(summary: CaseSummary, source_text: str | None = None) -> KeyMessage:
    """The key message for a record; with ``source_text``, numbers the source does not
    write in digits (a course count read from "a single dose") are left out."""
    study, patients = summary.study, summary.patients

    def stated(n: int) -> bool:
        return source_text is None or re.search(rf"(?<![\d.,]){n}(?![\d])", source_text) is not None

    if not patients:
        return _no_patients(summary, stated)
    n = len(patients)
    people = _people(patients, n)
    subject, be = _pronoun(patients)
    index_names = Counter(t.name for p in patients if (t := p.index_treatment))
    intervention = study.intervention or (index_names.most_common(1)[0][0] if index_names else None)

    # Sentence 1: who, with what.
    if n == 1:
        p = patients[0]
        article = "An" if people[0] in "aeiou" else "A"
        who = f"{article} {people}"
        if p.age_years is not None and p.age_years >= 2 and float(p.age_years).is_integer() and stated(int(p.age_years)):
            who = f"{article} {int(p.age_years)}-year-old {people}"
    else:
        who = f"{_count_word(n, capital=True)} {people}"
    s1 = who
    common = [c for c in patients[0].comorbidities if all(c in p.comorbidities for p in patients)][:2]
    if common:
        s1 += f" with {_join(common)}"
    s1 += f" had {_with_gloss(study.condition, lay_first=True)}" if study.condition else " was treated"
    problem = study.problem
    if problem and study.condition:
        s1 += f" with {problem}"
    elif not problem:
        shared = [m for m, _ in Counter(m for p in patients for m in p.manifestations).most_common(2)]
        if shared and study.condition:
            s1 += f" with {_join(shared)}"
    prior = []
    for p in patients:
        for t in p.treatments:
            if t.role == "prior" and t.response in ("no_change", "worsened") and t.name not in prior:
                prior.append(t.name)
    if prior:
        relapsed = any(
            t.role == "prior" and t.response == "worsened" and any(re.search(r"relaps|recurr|flare", e.quote, re.I) for e in t.evidence)
            for p in patients for t in p.treatments
        )
        s1 += f" that {'came back (relapsed) despite' if relapsed else 'did not get better with'} {_join(prior[:3])}"
    s1 += "."

    # Sentence 2: what was done and what happened.
    s2 = ""
    if intervention:
        routes = {t.route for p in patients if (t := p.index_treatment) and t.route}
        lay = _with_gloss(intervention)
        route = ""
        if len(routes) == 1:
            r = next(iter(routes))
            if r in _ROUTE_LAY and not re.search(r"infusion|injection|mouth|vein|skin|cream|drops|intravenous|subcutaneous|oral|topical|intramuscular|intrathecal", lay, re.I):
                route = f" {_ROUTE_LAY[r]}"
        s2 = f"{subject} {be} {'then ' if prior else ''}given {lay}{route}"
    statuses = [p.outcome.status for p in patients]
    descriptions = [p.outcome.description for p in patients if p.outcome.description]
    counts = Counter(s for s in statuses if s != "not_reported")
    outcome = ""
    if counts:
        if len(counts) == 1:
            status = next(iter(counts))
            who2 = ("" if n == 1 else "both" if n == 2 else "all") if counts[status] == n else f"{_count_word(counts[status])} of them"
            phrase = _outcome_phrase(status, descriptions)
            outcome = f"{who2} {phrase}".strip()
            courses = sorted({t.courses for p in patients if (t := p.index_treatment) and t.courses and stated(t.courses)})
            if status in ("resolved", "improved") and courses and len(courses) <= 3:
                outcome += f" after {_join([str(c) for c in courses])} course{'s' if courses != [1] else ''}"
            better, worse = _what_changed(descriptions)
            if status == "improved" and better:
                outcome += f", mainly {'their' if n > 1 else 'the'} {gloss(better)}"
            if worse:
                outcome += f", but {gloss(worse)} did not recover"
        else:
            outcome = _join([f"{_count_word(c)} {_outcome_phrase(s, descriptions)}" for s, c in counts.most_common()])
    ae = [p.adverse_events for p in patients]
    ae_text = ""
    if all(a.status == "none" for a in ae):
        ae_text = "with no side effects reported"
    elif any(a.status == "present" for a in ae):
        events = sorted({e for a in ae for e in a.events})
        if events:
            ae_text = f"side effects included {_join(events[:3])}"
    if s2 and outcome:
        s2 += f", and {outcome}"
    elif outcome:
        s2 = f"{subject} {outcome}" if n == 1 else outcome[0].upper() + outcome[1:]
    if ae_text:
        s2 = f"{s2}, {ae_text}" if s2 else ae_text[0].upper() + ae_text[1:]
    if s2:
        s2 = s2[0].upper() + s2[1:] + "."

    # Sentence 3: how sure we can be.
    if n == 1:
        s3 = "This is a single case, so it shows what is possible rather than proving that the treatment works."
    else:
        s3 = f"This report covers only {_count_word(n)} patients, so it shows what is possible rather than proving that the treatment works."
    plain = " ".join(s for s in (s1, s2, s3) if s)
    return KeyMessage(plain_language=_tidy(plain), clinical=_clinical(summary, prior, intervention))


def _no_patients(summary: CaseSummary, stated=lambda n: True) -> KeyMessage:
    study = summary.study
    kind = {"review": "review of published reports", "trial": "clinical trial", "cohort": "study of a group of patients"}.get(
        study.design, "report"
    )
    about = f" about {_with_gloss(study.condition, lay_first=True)}" if study.condition else ""
    treat = f" and {study.intervention}" if study.intervention else ""
    n = f" of {study.n_patients} patients" if study.n_patients and stated(study.n_patients) else ""
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
