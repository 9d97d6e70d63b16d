"""Write ``docs/_data/verification.json``, the verification record the family pages show.

    python docs/record_verification.py                    # run `learndyn verify --power` (tiers a, b, claims), record it
    python docs/record_verification.py NAME ...           # only these results, merged into the existing record
    python docs/record_verification.py --from-json run.json   # record a saved `learndyn verify --power --json` output
    python docs/record_verification.py --from-readme      # the power table of README.md's "Verification" section

A run at the default size takes minutes (README.md, "Performance"); ``--examples``, ``--seed`` and ``--device``
are passed on to ``learndyn verify``. The record holds, per result, the outcome of tier a and tier b (passed, how
many checks, which failed) and tier b's power (``δ``, the weakest variant, the 2 % target; for a bound, what it was
replaced by), per claim its outcome, and how it was recorded: command, size, seed, device, torch, date, commit. The
docs show it as recorded; nothing is verified when they are built.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "docs" / "_data" / "verification.json"
FORMAT = 1


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def commit() -> str | None:
    """The checked-out commit, ``+dirty`` where tracked files differ from it."""
    head = _git("rev-parse", "--short=12", "HEAD")
    if head and _git("status", "--porcelain", "--untracked-files=no"):
        head += "+dirty"
    return head


def _tier(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    failed = [r["tier"] for r in rows if not r["passed"]]
    return {"passed": not failed, "checks": len(rows), "failed": failed}


def _power(row: dict) -> dict:
    keep = ("delta", "weakest", "per_variant", "passes_unperturbed", "bound_replaced_by", "bound_detected",
            "meets_target", "note")
    return {k: row.get(k) for k in keep}


def record_from_run(run: dict, *, command: str, source: str) -> dict:
    """The record of one ``learndyn verify --power --json`` output (its ``checks`` and ``power``)."""
    results: dict[str, dict] = {}
    claims: dict[str, dict] = {}
    by_name: dict[tuple[str, str], list[dict]] = {}
    for row in run.get("checks", []):
        tier = row["tier"].split(":", 1)[0].strip()
        by_name.setdefault((row["name"], tier), []).append(row)
    for (name, tier), rows in by_name.items():
        if tier in ("a", "b"):
            results.setdefault(name, {"tier_a": None, "tier_b": None, "power": None})[f"tier_{tier}"] = _tier(rows)
        else:
            claims[name] = _tier(rows)
    for row in run.get("power", []):
        results.setdefault(row["result"], {"tier_a": None, "tier_b": None, "power": None})["power"] = _power(row)
    recorded = {"source": source, "command": command, "examples": run.get("examples"), "seed": run.get("seed"),
                "device": run.get("device"), "torch": run.get("torch"),
                "date": datetime.date.today().isoformat(), "commit": commit(), "note": None}
    return {"format": FORMAT, "recorded": recorded, "results": dict(sorted(results.items())),
            "claims": dict(sorted(claims.items()))}


#: README's spelling of a power ``δ``: ``0.1 %``, ``≤ 0.01 %`` (the bisection's lower end), or a bound that
#: ``fails as OTHER`` (replaced by the quantity it bounds)
_ENTRY = re.compile(r"`(\w+)` (?:(≤ )?([\d.]+) %|fails as `(\w+)`)")


def record_from_readme(readme: Path) -> dict:
    """The record of the power table in README.md's "Verification" section. That table gives per result its
    ``δ`` at the default size, seed 0, CPU, and that every result met the 2 % target, which a result meets only where
    tier b passes unperturbed (``PowerRow.meets_target``); so tier b is recorded as passed with its number of checks
    unknown, and tier a as not recorded. Date and commit are not stated there."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Verification", 1)[1].split("\n## ", 1)[0]
    table = section.split("**Power.**", 1)[1]
    head = table.split("| family |", 1)[0]
    size = re.search(r"`--examples (\d+)`, seed (\d+), (\w+)", head)
    results = {}
    for line in table.split("| family |", 1)[1].splitlines():
        if not re.match(r"\| \d+ \|", line):
            continue
        for name, upto, pct, bound in _ENTRY.findall(line):
            power = {"delta": None, "weakest": None, "per_variant": None, "passes_unperturbed": True,
                     "bound_replaced_by": None, "bound_detected": None, "meets_target": True, "note": None}
            if bound:
                power.update(bound_replaced_by=bound, bound_detected=True)
            else:
                power["delta"] = float(f"{float(pct) / 100:.6g}")
                if upto:
                    power["note"] = "at or below the bisection's lower end, 0.01 %"
            results[name] = {"tier_a": None, "tier_b": {"passed": True, "checks": None, "failed": []}, "power": power}
    if not results:
        raise ValueError(f"{readme}: no power table found in its Verification section")
    recorded = {"source": "README.md, section \"Verification: what each tier checks, and its power\" (its power table)",
                "command": "learndyn verify --power", "examples": int(size.group(1)) if size else None,
                "seed": int(size.group(2)) if size else None, "device": size.group(3).lower() if size else None,
                "torch": None, "date": None, "commit": None,
                "note": ("Tier b is recorded as passed because every result met the 2 % power target, which requires "
                         "tier b to pass unperturbed; tier a and the claims are not in that table.")}
    return {"format": FORMAT, "recorded": recorded, "results": dict(sorted(results.items())), "claims": {}}


def run_verify(names: list[str], examples: int, seed: int, device: str | None) -> tuple[dict, str, int]:
    args = ["verify", "--power", "--tier", "a", "--tier", "b", "--tier", "claims", "--json",
            "--examples", str(examples), "--seed", str(seed), *(["--device", device] if device else []), *names]
    command = "learndyn " + " ".join(args)
    print(f"running {command} (minutes at the default size)", file=sys.stderr)
    proc = subprocess.run([sys.executable, "-c", "from learndyn.cli import main; main()", *args], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    try:
        run = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"`{command}` gave no JSON (exit {proc.returncode}); nothing recorded")
    return run, command, proc.returncode


def merge(old: dict, new: dict) -> dict:
    """``new`` over ``old``, result by result (a run of some NAMES keeps the others' records). The record keeps
    ``old``'s provenance; each entry of ``new`` carries its own under ``recorded``."""
    out = dict(old)
    for kind in ("results", "claims"):
        fresh = {name: {**entry, "recorded": new["recorded"]} for name, entry in new[kind].items()}
        out[kind] = dict(sorted({**old.get(kind, {}), **fresh}.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="result names (default: every result); merged into the record")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--from-json", type=Path, help="a saved `learndyn verify --power --json` output")
    ap.add_argument("--from-readme", action="store_true", help="the power table of README.md")
    ap.add_argument("-o", "--output", type=Path, default=RECORD)
    a = ap.parse_args(argv)
    status = 0
    if a.from_readme:
        record = record_from_readme(ROOT / "README.md")
    elif a.from_json:
        record = record_from_run(json.loads(a.from_json.read_text(encoding="utf-8")),
                                 command=f"learndyn verify --power --json (saved in {a.from_json.name})",
                                 source=str(a.from_json))
    else:
        run, command, status = run_verify(a.names, a.examples, a.seed, a.device)
        record = record_from_run(run, command=command, source="a run of docs/record_verification.py")
    if a.names and a.output.exists():
        record = merge(json.loads(a.output.read_text(encoding="utf-8")), record)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(json.dumps(record, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {a.output}: {len(record['results'])} results, {len(record['claims'])} claims", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
