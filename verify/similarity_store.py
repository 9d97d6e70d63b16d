"""The similarity experiment's results kept on disk, so that its figure and the report reuse a run instead of
training the networks again.

``learndyn similarity-experiment`` stores each run it makes; ``learndyn figures representation_similarity`` and
``learndyn report`` load the stored run of the same configuration (:meth:`SimilarityConfig.quick` with
``--quick``/``--quick-figures``, the default otherwise, at their ``--seed``) and device, and run it only when there
is none. The key hashes the configuration (its noise strength filled in), the device, the versions of learndyn,
torch, NumPy and scikit-learn, and the source of everything the run executes: the verification source digest
(:func:`learndyn.verify.verification_cache.source_digest`: the generated functions such as ``critical_sigma_w``,
``shifted_relu_critical_point`` and ``trainable_depth`` in ``generated/signal_propagation.py``, the numerics, and
the verification code, which includes the split of :func:`learndyn.verify.simulate.digits_dataset` and
``simulate/scalar.py``) plus the files that digest leaves out and the run uses (the trainer, the measurements,
the claims, this experiment and :mod:`learndyn.similarity`), so a change to any of them runs the experiment
again. A conservative key: a change to other verification code also runs it again. Files live in
``$LEARNDYN_CACHE/similarity/KEY.json`` (default ``~/.cache/learndyn/similarity``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Callable

__all__ = ["result_key", "stored_path", "load_stored", "store", "stored_or_run"]


def _sources() -> list[Path]:
    """The run's source that :func:`~learndyn.verify.verification_cache.source_digest` does not cover."""
    import learndyn.similarity
    import learndyn.verify

    verify = Path(learndyn.verify.__file__).parent
    files = [verify / name for name in ("similarity_experiment.py", "similarity_measures.py", "similarity_claims.py")]
    files.append(verify / "simulate" / "noisy_mlp.py")
    files += sorted(Path(learndyn.similarity.__file__).parent.glob("*.py"))
    return files


def result_key(config, device: str) -> str:
    """SHA-256 (first 24 hex digits) of the configuration, device, versions and source (module docstring)."""
    from importlib import metadata

    from learndyn.verify.verification_cache import source_digest

    if hasattr(config, "resolved"):
        config = config.resolved()
    h = hashlib.sha256()
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
    h.update(str(device).encode())
    h.update(source_digest().encode())
    for pkg in ("learndyn", "torch", "numpy", "scikit-learn"):
        try:
            h.update(f"{pkg}={metadata.version(pkg)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{pkg}=absent".encode())
    for path in _sources():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def stored_path(config, device: str) -> Path:
    """Where the run of ``config`` on ``device`` is (or would be) stored."""
    from learndyn.derive.pipeline import cache_dir

    return cache_dir() / "similarity" / f"{result_key(config, device)}.json"


def load_stored(config, device: str) -> dict | None:
    """The stored JSON of ``config`` on ``device``, or ``None``."""
    path = stored_path(config, device)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def store(config, device: str, data: dict) -> Path:
    """Write ``data`` (a result's JSON) under its key, through a uniquely named temporary file in the same folder
    (atomic replace: concurrent writers never leave a partial file); returns the path. If the cache folder cannot
    be written a ``UserWarning`` says so and names the error (the result is then not kept)."""
    path = stored_path(config, device)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data) + "\n")
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f"the similarity run was not stored in {path.parent}: {err}", stacklevel=2)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def stored_or_run(config, device: str, progress: Callable[[str], None] | None = None) -> dict:
    """The stored JSON of ``config`` on ``device``, running (and storing) the experiment when there is none."""
    data = load_stored(config, device)
    if data is None:
        from learndyn.verify.similarity_experiment import run_similarity_experiment

        data = run_similarity_experiment(config, device=device, progress=progress).to_json()
        store(config, device, data)
    return data
