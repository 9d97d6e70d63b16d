"""Verification results cached on disk, reused while nothing they depend on changed.

The key hashes everything a verification outcome depends on: the chosen results, tiers, seed, device and
number of examples; the versions of learndyn, torch, SymPy, mpmath, NumPy and hypothesis; and the source of
the generated functions, the numerics and the verification code. Change any of them and the checks run
again. Files live in ``$LEARNDYN_CACHE/verify/`` (default ``~/.cache/learndyn/verify``)."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig

__all__ = ["Verification", "verification_key", "cached_verification", "provenance", "source_digest"]

_PACKAGES = ("learndyn", "torch", "sympy", "mpmath", "numpy", "hypothesis")
#: source that verification does not run: benchmarks, figures, the report's layout, this cache, the CLI
_NOT_VERIFICATION = {"bench", "figures", "report_document.py", "verification_cache.py", "figure_data.py",
                     "digits_experiment.py", "cli.py", "latex_build.py", "similarity_experiment.py",
                     "similarity_measures.py", "similarity_claims.py", "similarity_store.py", "similarity_document.py",
                     "noisy_mlp.py"}


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "absent"


def source_digest() -> str:
    """SHA-256 over the source of the generated modules, the numerics and the verification code."""
    import learndyn
    import learndyn.generated
    import learndyn.verify

    roots = [Path(learndyn.__file__).parent, Path(learndyn.generated.__file__).parent, Path(learndyn.verify.__file__).parent]
    h = hashlib.sha256()
    for root in roots:
        for f in sorted(root.rglob("*.py")):
            if set(f.relative_to(root).parts) & _NOT_VERIFICATION:  # what checks measure does not depend on these
                continue
            h.update(str(f.relative_to(root.parent)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def provenance(config: VerifyConfig) -> dict:
    """What a verification outcome depends on besides the code: versions, seed, device, examples."""
    import platform

    return {"versions": {p: _version(p) for p in _PACKAGES}, "python": platform.python_version(),
            "seed": config.seed, "device": config.device, "examples": config.examples}


def verification_key(names: Iterable[str] | None, config: VerifyConfig, tiers: tuple[str, ...]) -> str:
    payload = {"names": sorted(names) if names else None, "tiers": sorted(tiers), **provenance(config),
               "source": source_digest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _cache_file(key: str) -> Path:
    from learndyn.derive.pipeline import cache_dir

    return cache_dir() / "verify" / f"{key}.json"


def _check_from_json(d: dict) -> Check:
    d = dict(d)
    for k in ("worst", "tolerance"):
        d[k] = math.nan if d[k] is None else d[k]
    return Check(**d)


@dataclass
class Verification:
    """A verification's outcome: the checks, the power of tier (b) (JSON rows of
    :class:`~learndyn.verify.tier_b.PowerRow`, empty without tier b), whether it was reused from the cache, its key."""

    checks: list[Check]
    power: list[dict]
    reused: bool
    key: str


def cached_verification(names: list[str] | None, config: VerifyConfig, tiers: tuple[str, ...] = ("a", "b", "claims"),
                        *, progress: Callable[[str], None] | None = None, refresh: bool = False) -> Verification:
    """The cached outcome of this verification where there is one (and not ``refresh``), else a fresh run
    (:func:`learndyn.verify.runner.run_verification`, and :func:`~learndyn.verify.runner.run_power` on the same
    simulations where tier b runs), stored for next time."""
    from learndyn.verify.runner import run_power, run_verification
    from learndyn.verify.tier_b import MeasurementCache

    key = verification_key(names, config, tiers)
    path = _cache_file(key)
    if path.exists() and not refresh:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Verification([_check_from_json(c) for c in data["checks"]], list(data.get("power", [])), True, key)
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache file: verify again
    cache = MeasurementCache()
    checks = run_verification(names, config=config, tiers=tiers, progress=progress, cache=cache)
    power = [r.to_json() for r in run_power(names, config=config, cache=cache)] if "b" in tiers else []
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, **provenance(config), "checks": [c.to_json() for c in checks],
                               "power": power}, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return Verification(checks, power, False, key)
