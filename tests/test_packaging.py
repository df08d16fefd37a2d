"""A plain wheel install (not editable) ships the prompts, schemas and vocabularies and runs."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import zipfile

from helpers import EVAL, ROOT


def test_wheel_contains_resources_and_runs_from_a_fresh_location(tmp_path):
    # Build from a clean copy: a stale build/ folder in the checkout would hide missing packages.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", ".git", ".venv*", "__pycache__", ".pytest_cache", "eval", "tests"))
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)]
    if importlib.util.find_spec("setuptools") and importlib.util.find_spec("wheel"):
        cmd.insert(5, "--no-build-isolation")
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("summarizer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "summarizer/schemas/case_summary.schema.json" in names
    assert "summarizer/data/drugs.tsv" in names and "summarizer/data/glossary.tsv" in names
    assert any(n.startswith("summarizer/prompts/") and n.endswith(".j2") for n in names)
    assert not any(n.startswith(("tests/", "eval/")) for n in names)
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "summarizer").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names, "every subpackage is in the wheel"

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True, timeout=300)
    # -I -S: no site processing, so the editable install's import hook cannot
    # serve modules the wheel lacks; dependencies come from this interpreter's site-packages.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[3]]\n"
        "import summarizer, importlib.resources as r\n"
        "assert summarizer.__file__.startswith(sys.argv[1]), summarizer.__file__\n"
        "from summarizer.prompt import load_prompt\n"
        "p = load_prompt('case_summary'); print(p.name, p.version, len(p.sha256))\n"
        "print(r.files('summarizer.schemas').joinpath('case_summary.schema.json').is_file())\n"
        "from summarizer import summarize\n"
        "s = summarize(open(sys.argv[2], encoding='utf-8').read(), backend='offline')\n"
        "print(s.study.n_patients, s.patients[0].treatments[-1].name)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(site), str(EVAL / "docs" / "004_22dd3392854c3327.txt"), sysconfig.get_paths()["purelib"]],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "SUMMARIZER_CACHE": str(tmp_path / "cache" / "db.sqlite3")},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("case_summary ") and lines[0].endswith(" 64")
    assert lines[1] == "True"
    assert lines[2] == "3 tacrolimus"
