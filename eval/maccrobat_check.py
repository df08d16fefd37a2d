"""Real-world check of ages, sexes and medications on 25 MACCROBAT case reports.

    python eval/maccrobat_check.py [--backend offline] [--verbose]

The MACCROBAT annotators (CC BY 4.0, see eval/external/README.md) labelled
Age, Sex and Medication spans in full case reports written by people outside
this project. The labels are silver: this script reports how many of them the
summariser recovers for the patient, not a gold-standard score. Medication
spans include generic words ("treatment", "drugs") and diagnostic agents
(contrast media); the script counts a span as recovered when a treatment name
or one of its evidence quotes overlaps it or matches it by name.

Prints a Markdown table and the totals.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "external" / "maccrobat"
_GENERIC = {"treatment", "treatments", "drugs", "drug", "medication", "medications", "therapy", "medicine", "agents"}


def read_ann(path: Path) -> dict[str, list[tuple[int, int, str]]]:
    out: dict[str, list[tuple[int, int, str]]] = {"Age": [], "Sex": [], "Medication": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].startswith("T"):
            continue
        kind_span = parts[1].split(" ")
        kind = kind_span[0]
        if kind in out and ";" not in parts[1]:
            out[kind].append((int(kind_span[1]), int(kind_span[2]), parts[2]))
    return out


def age_value(text: str) -> float | None:
    m = re.search(r"(\d+(?:\.\d+)?)[\s-]*(year|yr|month|week|day)", text, re.I)
    if not m:
        return None
    v = float(m.group(1))
    unit = m.group(2).lower()
    return round(v / 12, 2) if unit == "month" else round(v * 7 / 365.25, 2) if unit == "week" else round(v / 365.25, 2) if unit == "day" else v


def sex_value(text: str) -> str | None:
    t = text.lower()
    if re.search(r"\b(?:woman|female|girl|lady|she|her|mother|wife)\b", t):
        return "female"
    if re.search(r"\b(?:man|male|boy|gentleman|he|his|him|father|husband)\b", t):
        return "male"
    return None


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from summarizer import summarize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="offline")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)

    rows = []
    totals = {"age": [0, 0], "sex": [0, 0], "med": [0, 0], "pred_treatments": 0, "pred_matched": 0}
    for txt in sorted(DATA.glob("*.txt")):
        text = txt.read_text(encoding="utf-8")
        ann = read_ann(txt.with_suffix(".ann"))
        summary = summarize(text, backend=args.backend)
        p = summary.patients[0] if summary.patients else None
        # age / sex: the first labelled span is the patient's
        gold_age = next((age_value(t) for _, _, t in ann["Age"] if age_value(t) is not None), None)
        gold_sex = next((sex_value(t) for _, _, t in ann["Sex"] if sex_value(t)), None)
        age_ok = gold_age is not None and p is not None and p.age_years is not None and abs(p.age_years - gold_age) <= 0.05
        sex_ok = gold_sex is not None and p is not None and p.sex == gold_sex
        if gold_age is not None:
            totals["age"][0] += age_ok
            totals["age"][1] += 1
        if gold_sex is not None:
            totals["sex"][0] += sex_ok
            totals["sex"][1] += 1
        meds = [(s, e, t) for s, e, t in ann["Medication"] if t.lower().strip() not in _GENERIC]
        spans = []
        names = []
        for pt in summary.patients:
            for tr in pt.treatments:
                names.append(tr.name.lower())
                spans += [(ev.start, ev.end) for ev in tr.evidence]
        found = 0
        for s, e, t in meds:
            overlap = any(a < e and s < b for a, b in spans)
            named = any(n in t.lower() or t.lower() in n for n in names)
            found += bool(overlap or named)
        totals["med"][0] += found
        totals["med"][1] += len(meds)
        med_texts = [t.lower() for _, _, t in meds]
        matched_pred = sum(1 for n in names if any(n in m or m in n for m in med_texts))
        totals["pred_treatments"] += len(names)
        totals["pred_matched"] += matched_pred
        rows.append((txt.stem, gold_age, p.age_years if p else None, age_ok, gold_sex, p.sex if p else None, sex_ok, found, len(meds), len(names)))
        if args.verbose:
            print(f"{txt.stem}: meds gold={[t for _, _, t in meds]} predicted={names}")

    print("| doc | age gold | age pred | sex gold | sex pred | medications found | treatments predicted |")
    print("|---|---|---|---|---|---|---|")
    for stem, ga, pa, aok, gs, ps, sok, f, n, npred in rows:
        print(f"| {stem} | {ga} | {pa}{'' if aok or ga is None else ' ✗'} | {gs} | {ps}{'' if sok or gs is None else ' ✗'} | {f}/{n} | {npred} |")
    a, s_, m = totals["age"], totals["sex"], totals["med"]
    print()
    print(f"age: {a[0]}/{a[1]} ({a[0] / max(1, a[1]):.0%})  sex: {s_[0]}/{s_[1]} ({s_[0] / max(1, s_[1]):.0%})  "
          f"medication spans recovered: {m[0]}/{m[1]} ({m[0] / max(1, m[1]):.0%})  "
          f"predicted treatments that are labelled medications: {totals['pred_matched']}/{totals['pred_treatments']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
