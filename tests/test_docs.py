"""The documentation: the Sphinx site builds without a single warning, the tutorial's commands run as shown, and the
verification record's script reduces a run correctly.

The site build is the command in docs/conf.py's docstring (``-W --keep-going -n``: every warning, unresolved
reference and public name without a docstring fails it). The tutorial's commands are the blocks of
``docs/tutorial/tutorial.sh``, the file docs/tutorial.rst includes, run here one by one with a few examples."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCRIPT = DOCS / "tutorial" / "tutorial.sh"


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # this environment's learndyn
    env.setdefault("LEARNDYN_CACHE", str(ROOT / ".learndyn-cache"))
    return env


# -- the site ---------------------------------------------------------------------------------------------------------

def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx is not installed: pip install -e '.[test]' (or '.[docs]')")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-d", str(tmp_path / "doctrees"),
           str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0 and not warnings, "the docs build printed:\n" + "\n".join(warnings or [proc.stderr[-3000:]])
    for page in ("index", "tutorial", "families/index", "families/linear", "api/tier_b", "guides/verify"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
    linear = (tmp_path / "html" / "families" / "linear.html").read_text(encoding="utf-8")
    assert "scalar_trajectory" in linear and "Proof record" in linear and "math" in linear


# -- the tutorial -------------------------------------------------------------------------------------------------------

def tutorial_blocks() -> dict[str, str]:
    """``# [name]`` ... ``# [/name]`` blocks of tutorial.sh, each with the script's preamble (its defaults)."""
    text = SCRIPT.read_text(encoding="utf-8")
    preamble = text.split("# [", 1)[0]
    blocks = dict(re.findall(r"^# \[(\w+)\]\n(.*?)^# \[/\1\]", text, flags=re.M | re.S))
    return {name: preamble + body for name, body in blocks.items()}


def test_tutorial_page_shows_every_block_of_the_script():
    page = (DOCS / "tutorial.rst").read_text(encoding="utf-8")
    shown = re.findall(r":start-after: # \[(\w+)\]", page)
    assert shown == list(tutorial_blocks()), "docs/tutorial.rst must literalinclude every block of tutorial.sh, in order"
    assert "literalinclude:: ../examples/my_results.py" in page


def run_block(name: str, out: Path) -> subprocess.CompletedProcess:
    env = _env() | {"OUT": str(out), "EXAMPLES": "5", "MODULE": "examples/my_results.py"}
    proc = subprocess.run(["bash", "-c", tutorial_blocks()[name]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"tutorial step {name!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    out = tmp_path_factory.mktemp("tutorial") / "my_generated"
    run_block("derive", out)
    return out


def test_tutorial_derive_and_use(derived):
    assert (derived / "regression.py").exists() and (derived / "regression.tex").exists()
    shown = run_block("use", derived).stdout
    assert "tensor(" in shown


def test_tutorial_verify(derived):
    proc = run_block("verify", derived)
    assert "all 2 checks passed" in proc.stdout or "checks passed" in proc.stdout
    assert "catch a 2% error" in proc.stdout


def test_tutorial_validity_map(derived):
    run_block("validity", derived)
    assert (derived / "maps" / "validity" / "linear_regression_trajectory-lr.json").exists()


def test_tutorial_pdf(derived):
    if not (shutil.which("latexmk") or shutil.which("pdflatex")):
        pytest.skip("no LaTeX engine (pdflatex/latexmk): the tutorial's PDF step is skipped")
    run_block("pdf", derived)
    assert (derived / "regression-paper.pdf").stat().st_size > 0
    checks = json.loads((derived / "verification.json").read_text(encoding="utf-8"))["checks"]
    assert checks and all(c["passed"] for c in checks)


# -- the verification record --------------------------------------------------------------------------------------------

def _record_module():
    spec = importlib.util.spec_from_file_location("record_verification", DOCS / "record_verification.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_from_a_verify_run():
    rec = _record_module()
    run = {"seed": 0, "device": "cpu", "examples": 5, "torch": "2.13.0+cpu", "checks": [
        {"name": "r1", "tier": "a: mpmath 50 digits", "passed": True},
        {"name": "r1", "tier": "a: independent reference", "passed": False},
        {"name": "r1", "tier": "b: GD, Richardson", "passed": True},
        {"name": "c1", "tier": "claims: a claim", "passed": True}],
        "power": [{"result": "r1", "checks": 1, "delta": 0.0027, "weakest": "clock (1+d) fast", "per_variant": {},
                   "passes_unperturbed": True, "bound_replaced_by": None, "bound_detected": None, "note": "",
                   "meets_target": True}]}
    out = rec.record_from_run(run, command="learndyn verify --power", source="test")
    r1 = out["results"]["r1"]
    assert r1["tier_a"] == {"passed": False, "checks": 2, "failed": ["a: independent reference"]}
    assert r1["tier_b"] == {"passed": True, "checks": 1, "failed": []}
    assert r1["power"]["delta"] == 0.0027 and r1["power"]["meets_target"]
    assert out["claims"]["c1"]["passed"]
    assert out["recorded"]["examples"] == 5 and out["recorded"]["date"]


def test_a_partial_run_is_merged_with_its_own_provenance():
    rec = _record_module()
    old = {"format": 1, "recorded": {"source": "old"}, "results": {"r1": {"tier_a": None}, "r2": {"tier_a": None}},
           "claims": {}}
    new = {"format": 1, "recorded": {"source": "new"}, "results": {"r2": {"tier_a": {"passed": True}}}, "claims": {}}
    out = rec.merge(old, new)
    assert out["recorded"] == {"source": "old"} and out["results"]["r1"] == {"tier_a": None}
    assert out["results"]["r2"] == {"tier_a": {"passed": True}, "recorded": {"source": "new"}}


def test_committed_record_names_known_results():
    record = json.loads((DOCS / "_data" / "verification.json").read_text(encoding="utf-8"))
    catalogue = json.loads((ROOT / "generated" / "catalogue.json").read_text(encoding="utf-8"))
    assert set(record["results"]) <= set(catalogue["results"])
    assert set(record["claims"]) <= set(catalogue["claims"])
    assert {"source", "command", "date", "commit"} <= set(record["recorded"])


def test_record_from_readme_reads_its_power_table(tmp_path):
    """The committed record was rebuilt from the README's power table of the time (it moved to the docs since): the
    reader still parses that table's format."""
    readme = tmp_path / "README.md"
    readme.write_text("""## Verification

**Power.** `learndyn verify --power [NAMES]` finds ...

| family | results and their power `δ` |
|---|---|
| 1 | `scalar_trajectory` 0.1 %, `mode_trajectory` 0.1 % |
| 2 | `dropout_time_bound` fails as `dropout_expected_time`, `dropout_trajectory` 0.1 % |

The power is the most sensitive configuration's.
""", encoding="utf-8")
    out = _record_module().record_from_readme(readme)
    assert out["results"]["scalar_trajectory"]["power"]["delta"] == pytest.approx(0.001)
    assert out["results"]["dropout_time_bound"]["power"]["bound_replaced_by"] == "dropout_expected_time"
