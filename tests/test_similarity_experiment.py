"""The representation-similarity experiment (family 7, seed 001's plan; ``learndyn similarity-experiment``): the quick
size end to end through the command line, the claims' decision rules on synthetic curves whose answer is known,
the measurements against :mod:`learndyn.similarity`, errors naming the parameter, and the report's section."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import learndyn.similarity as sim
from learndyn.cli import main
from learndyn.verify import similarity_claims as claims
from learndyn.verify.similarity_experiment import FIGURE, OUTPUT_JSON, SimilarityConfig, checkpoint_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")

pytest.importorskip("sklearn")


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Every test here (and the module's quick run, which later tests reuse from the store) writes its stored runs
    into a temporary ``LEARNDYN_CACHE``, never into the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEARNDYN_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, one_torch_thread, private_cache):
    """``(folder, CliRunner result, JSON)`` of ``learndyn similarity-experiment --quick``."""
    out = tmp_path_factory.mktemp("similarity")
    result = CliRunner().invoke(main, ["similarity-experiment", "-o", str(out), "--quick", "--device", "cpu"])
    data = json.loads((out / OUTPUT_JSON).read_text()) if (out / OUTPUT_JSON).exists() else None
    return out, result, data


# ------------------------------------------------------------------------------------------- end to end


def test_quick_run_writes_json_figure_and_claims(quick_run) -> None:
    out, result, data = quick_run
    assert result.exit_code == 0, result.output
    for name in (OUTPUT_JSON, f"{FIGURE}.png", f"{FIGURE}.pdf"):
        assert (out / name).stat().st_size > 1000, name
    assert (out / f"{FIGURE}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / f"{FIGURE}.pdf").read_bytes().startswith(b"%PDF-")
    assert "bottom_up" in result.stdout and "critical_closer_to_best" in result.stdout and "wrote" in result.stdout
    assert "similarity-experiment: " in result.stderr  # the progress display
    config = SimilarityConfig.quick()
    assert data["config"]["depth"] == config.depth and data["config"]["seeds"] == config.seeds
    assert data["versions"]["torch"] == torch.__version__ and data["device"] == "cpu"
    nets = data["networks"]
    assert len(nets) == len(config.activations) * (1 + len(config.factors)) * config.seeds
    assert {n["start"] for n in nets} == {"critical", "x0.5", "x2"}
    # the critical ReLU start is critical_sigma_w; the off-critical ones scale sigma_w^2
    relu = {n["start"]: n["sigma_w"] for n in nets if n["activation"] == "relu"}
    assert relu["critical"] == pytest.approx(math.sqrt(2 / data["theory"]["mu2"]), rel=1e-12)
    assert relu["x2"] ** 2 == pytest.approx(2 * relu["critical"] ** 2, rel=1e-12)
    assert data["checkpoints"] == checkpoint_steps(config.steps, config.checkpoints)


def test_quick_run_measurements_are_consistent(quick_run) -> None:
    *_, data = quick_run
    sv, nets = data["svcca"], data["networks"]
    T, L = len(data["checkpoints"]), data["config"]["depth"]
    to_final = torch.tensor([[[math.nan if v is None else v for v in r] for r in n] for n in sv["to_final"]])
    to_initial = torch.tensor([[[math.nan if v is None else v for v in r] for r in n] for n in sv["to_initial"]])
    assert to_final.shape == (len(nets), T, L)
    ok = torch.tensor([n["diverged_at"] < 0 for n in nets])
    assert ok.any()
    # a representation against itself is exactly 1; against a permuted copy it is far lower (chance)
    assert (to_final[ok, -1] == 1).all() and (to_initial[ok, 0] == 1).all()
    chance = torch.tensor([[math.nan if v is None else v for v in r] for r in sv["chance"]])[ok]
    assert (chance < 0.6).all() and (to_initial[ok, -1] > chance).all()
    # networks learned: the critical shifted ReLU beats chance accuracy, and the layers moved from their start
    acc = [n["probe_accuracy"][-1] for n in nets if n["activation"] == "shifted" and n["start"] == "critical"]
    assert min(acc) > 0.5
    assert (to_initial[ok, -1] < 0.999).all()
    refs = sv["to_best"]["reference"]
    assert all(r is None or nets[r]["seed"] != n["seed"] for r, n in zip(refs, nets))  # never its own draws
    # chosen on the selection rows (not the probe rows): the stored selection accuracies and losses give them
    from types import SimpleNamespace

    from learndyn.verify.similarity_measures import best_references

    last = lambda key: torch.tensor([math.nan if n[key][-1] is None else n[key][-1] for n in nets])  # noqa: E731
    specs = [SimpleNamespace(**n) for n in nets]
    assert best_references(specs, last("select_accuracy"), last("select_loss"),
                           torch.tensor([n["diverged_at"] for n in nets])) == refs
    config = SimilarityConfig.quick()
    assert data["config"]["n_select"] == config.n_select and sv["to_best"]["keep"] == config.keep_best
    assert len(sv["to_best"]["fixed"]) == len(nets) and len(sv["to_best"]["linear_cka"][0]) == L
    kinds = {r["claim"] for r in data["claims"]}
    assert kinds == {"bottom_up", "frozen_beyond_trainable_depth", "critical_closer_to_best"}
    assert all(r["outcome"] in (claims.HOLDS, claims.FAILS, claims.UNDECIDED) for r in data["claims"])
    # depth 6 < trainable_depth(1.1) = 14.3: claim (b) cannot be decided at this size, and says so
    frozen = [r for r in data["claims"] if r["claim"] == "frozen_beyond_trainable_depth"]
    assert frozen and all(r["outcome"] == claims.UNDECIDED and "this size" in r["reason"] for r in frozen)


def test_existing_output_needs_force(quick_run) -> None:
    out, *_ = quick_run
    before = (out / OUTPUT_JSON).read_bytes()
    r = CliRunner().invoke(main, ["similarity-experiment", "-o", str(out), "--quick"])
    assert r.exit_code == 1 and "--force" in r.output and OUTPUT_JSON in r.output
    assert (out / OUTPUT_JSON).read_bytes() == before


def test_figure_reuses_the_stored_run(quick_run, monkeypatch) -> None:
    """``learndyn figures`` loads the run the command stored (the experiment is not run again)."""
    from learndyn.verify import similarity_experiment
    from learndyn.verify.figures import FIGURES, worst_ratio

    *_, data = quick_run

    def no_run(*a, **k):
        raise AssertionError("the stored run was not reused")

    monkeypatch.setattr(similarity_experiment, "run_similarity_experiment", no_run)
    fig = FIGURES[FIGURE].data(seed=0, device="cpu", quick=True)
    assert fig["claims"] == data["claims"] and fig["agreement"] and worst_ratio(fig) <= 1.0
    groups = {(g["activation"], g["start"]) for g in fig["groups"]}
    assert ("relu", "critical") in groups and ("shifted", "x2") in groups


@pytest.mark.parametrize("args,needle", [
    (["--depth", "0"], "--depth"),
    (["--activations", "relu,tanh"], "--activations"),
    (["--factors", "1,2"], "--factors"),
    (["--noise", "dropout", "--noise-strength", "1.5"], "--noise-strength"),
    (["--noise", "pink"], "--noise"),
    (["--noise", "none", "--noise-strength", "0.5"], "--noise-strength"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_bad_options_name_the_parameter(args, needle, tmp_path) -> None:
    r = CliRunner().invoke(main, ["similarity-experiment", "-o", str(tmp_path / "x"), "--quick", *args])
    assert r.exit_code == 2 and needle in r.output, r.output
    assert not (tmp_path / "x").exists()  # refused before anything ran


@pytest.mark.parametrize("changes,needle", [
    (dict(depth=0), "depth"), (dict(activations=("relu", "tanh")), "activation 'tanh'"),
    (dict(factors=(0.5, -2.0)), "factors"), (dict(keep=1.5), "keep"), (dict(n_train=1500, n_probe=400), "n_train"),
    (dict(seed=True), "seed"), (dict(keep="most"), "keep"), (dict(threshold="0.9"), "threshold"),
    (dict(noise="none", noise_strength=0.5), "noise_strength must be left unset"),
    (dict(noise_strength="0.1"), "noise_strength"), (dict(n_select=0), "n_select"), (dict(keep_best=97), "keep_best"),
    (dict(n_train=1000, n_probe=400, n_select=400), "n_select"),
])
def test_bad_config_names_the_field(changes, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        SimilarityConfig(**changes).check()


def test_noise_strength_defaults_to_the_noise_own() -> None:
    """``noise_strength=None`` is the noise's default: keep probability 0.9 for dropout (not the Gaussian 0.1)."""
    from learndyn.verify.similarity_experiment import DEFAULT_STRENGTH, NOISES
    from learndyn.verify.simulate.noisy_mlp import NOISES as TRAINER_NOISES

    assert NOISES == TRAINER_NOISES and set(DEFAULT_STRENGTH) == set(NOISES)
    assert SimilarityConfig(noise="dropout").check().strength == 0.9
    assert SimilarityConfig(noise="dropout").resolved().noise_strength == 0.9
    assert SimilarityConfig().strength == 0.1 and SimilarityConfig(noise="none").check().strength == 0.0
    assert SimilarityConfig(noise="dropout", noise_strength=0.5).strength == 0.5


def test_trainer_rejects_bad_arguments() -> None:
    from learndyn.verify.simulate import train_noisy_mlps

    x, y = torch.randn(8, 4), torch.arange(8) % 2
    kw = dict(depth=2, width=3, sigma_w=1.0, sigma_b=0.0, alpha=0.0, seeds=[0], classes=2, steps=2)
    for bad, needle in ((dict(depth=0), "depth"), (dict(noise="pink"), "noise"), (dict(sigma_w=0.0), "sigma_w"),
                        (dict(checkpoints=[5]), "checkpoints"), (dict(alpha=[0.0, 1.0]), "alpha")):
        with pytest.raises(ValueError, match=needle):
            train_noisy_mlps(x, y, x, y, **{**kw, **bad})


# ----------------------------------------------------------------------------- the trainer


def _tiny_data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 5, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return x[:30], y[:30], x[30:], y[30:]


TINY = dict(depth=3, width=8, noise="gaussian", noise_strength=0.2, lr=0.05, steps=12, batch_size=10,
            checkpoints=[0, 5, 12], classes=4, device="cpu")


def _same_run(a, b) -> bool:
    return all(torch.equal(x, y) if isinstance(x, torch.Tensor) else
               (x == y or (math.isnan(x) and math.isnan(y))) for x, y in zip(a, b))


def test_trainer_is_bit_identical_for_the_same_seed() -> None:
    from learndyn.verify.simulate import train_noisy_mlps

    xt, yt, xp, yp = _tiny_data()
    kw = dict(TINY, sigma_w=[1.3, 1.6], sigma_b=[0.0, 0.1], alpha=[0.0, 0.5], seeds=[3, 4], x_select=xp,
              labels_select=yp)
    first, second = train_noisy_mlps(xt, yt, xp, yp, **kw), train_noisy_mlps(xt, yt, xp, yp, **kw)
    assert _same_run(first, second)
    assert not torch.isnan(first.select_loss).any() and not torch.isnan(first.activations).any()
    other = train_noisy_mlps(xt, yt, xp, yp, **{**kw, "seeds": [5, 4]})
    assert not torch.equal(other.activations[0], first.activations[0])  # the seed matters
    assert torch.equal(other.activations[1], first.activations[1])  # and only that network's


def test_a_network_trains_the_same_alone_or_in_a_batch() -> None:
    """A network's draws depend on its seed only: its run alone equals its row of a batch with other seeds and
    other starts (module docstring of noisy_mlp): bitwise at the initialisation, to float32 round-off after
    training (a batched matrix product may sum in another order)."""
    from learndyn.verify.simulate import train_noisy_mlps

    xt, yt, xp, yp = _tiny_data(1)
    alone = train_noisy_mlps(xt, yt, xp, yp, **TINY, sigma_w=1.4, sigma_b=0.1, alpha=0.5, seeds=[7])
    batch = train_noisy_mlps(xt, yt, xp, yp, **TINY, sigma_w=[1.0, 1.4, 1.4, 2.0], sigma_b=[0.0, 0.1, 0.0, 0.1],
                             alpha=[0.0, 0.5, 0.0, 0.5], seeds=[2, 7, 7, 9])
    for field in ("activations", "probe_accuracy", "train_loss", "init_variance", "diverged_at"):
        a, b = getattr(alone, field)[0], getattr(batch, field)[1]
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True), field
    assert torch.equal(alone.activations[0, 0], batch.activations[1, 0])
    assert torch.equal(alone.init_variance[0], batch.init_variance[1])
    assert not torch.allclose(batch.activations[1], batch.activations[2])  # same seed, other start: differs


@pytest.mark.parametrize("noise,strength,mu2", [("gaussian", 0.3, 1.3), ("dropout", 0.8, 1.25)])
def test_noise_second_moment_is_mu2(noise, strength, mu2) -> None:
    """``E ε² = μ2`` (:func:`noise_mu2`) measured from 200 000 draws of the training noise, within 5 standard
    errors; the mean is 1 (the noise-free network is the noisy one's mean)."""
    from learndyn.verify.simulate.noisy_mlp import _Noise, noise_mu2

    assert noise_mu2(noise, strength) == pytest.approx(mu2)
    gens = [torch.Generator().manual_seed(11)]
    eps = _Noise(noise, strength, gens, torch.tensor([0])).apply(torch.ones(1, 2000, 100)).double().reshape(-1)
    sq = eps.square()
    se = float(sq.std() / math.sqrt(sq.numel()))
    assert abs(float(sq.mean()) - mu2) < 5 * se and se < 0.01
    assert abs(float(eps.mean()) - 1) < 5 * float(eps.std() / math.sqrt(eps.numel()))
    additive = _Noise("additive", 0.4, gens, torch.tensor([0])).apply(torch.zeros(1, 2000, 100)).double()
    assert abs(float(additive.square().mean()) - 0.4) < 5 * float(additive.square().std() / math.sqrt(2e5))


def test_shifted_relu_is_max_of_h_and_minus_alpha() -> None:
    """The recorded activation of a one-layer network is ``φ(h) = max(h, −α)`` of ``h = W x + b`` (ReLU at 0)."""
    from learndyn.verify.simulate.noisy_mlp import _forward

    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 50, 3, generator=g)
    w = [torch.randn(2, 4, 3, generator=g), torch.randn(2, 2, 4, generator=g)]
    b = [torch.randn(2, 1, 4, generator=g), torch.zeros(2, 1, 2)]
    alpha = torch.tensor([0.0, 0.7])[:, None, None]
    _, (act,) = _forward(x, w, b, alpha, None, keep="post")
    h = x @ w[0].mT + b[0]
    assert torch.allclose(act[0], torch.relu(h[0]))
    assert torch.allclose(act[1], torch.relu(h[1] + 0.7) - 0.7)
    assert float(act[1].min()) == pytest.approx(-0.7) and (h[1] < -0.7).any()


def test_results_store_key_warning_and_temporary_files(tmp_path, monkeypatch) -> None:
    """The key changes with the source digest (generated functions, the split, the numerics) and the versions; an
    unset noise strength and its default are one key; an unwritable cache warns; no temporary file is left."""
    from learndyn.verify import similarity_store, verification_cache

    monkeypatch.setenv("LEARNDYN_CACHE", str(tmp_path / "cache"))
    config = SimilarityConfig.quick()
    key = similarity_store.result_key(config, "cpu")
    assert similarity_store.result_key(config.resolved(), "cpu") == key
    assert similarity_store.result_key(SimilarityConfig.quick(noise_strength=0.2), "cpu") != key
    monkeypatch.setattr(verification_cache, "source_digest", lambda: "another source")
    assert similarity_store.result_key(config, "cpu") != key
    path = similarity_store.store(config, "cpu", {"x": 1})
    assert similarity_store.load_stored(config, "cpu") == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    (tmp_path / "blocked").write_text("a file, not a folder")
    monkeypatch.setenv("LEARNDYN_CACHE", str(tmp_path / "blocked"))
    with pytest.warns(UserWarning, match="not stored"):
        similarity_store.store(config, "cpu", {"x": 1})


# ----------------------------------------------------------------------------- the measurements


def test_bases_give_the_library_svcca() -> None:
    """:mod:`learndyn.verify.similarity_measures` computes SVCCA from shared bases: the same numbers as
    :func:`learndyn.similarity.svcca` pair by pair, NaN for a non-finite representation."""
    from learndyn.verify import similarity_measures as m

    g = torch.Generator().manual_seed(3)
    base = torch.randn(3, 1, 60, 8, generator=g)
    acts = torch.relu(base + 0.7 * torch.randn(3, 4, 60, 8, generator=g))  # (B, T, n, N)
    acts[2, 3] = math.nan
    bases = m.layer_bases(acts, 0.99)
    to_final = m.to_checkpoint(bases, -1)
    expected = sim.svcca(acts[:2].double(), acts[:2, -1:].double(), keep=0.99)
    assert torch.allclose(to_final[:2], expected, atol=1e-12, rtol=0)
    assert torch.isnan(to_final[2]).all()
    pair = m.pairs_over_time(bases, [(0, 1)])
    assert torch.allclose(pair[0], sim.svcca(acts[0].double(), acts[1].double(), keep=0.99), atol=1e-12, rtol=0)


# ------------------------------------------------------------------- claims on synthetic curves


def _curves(times: list[list[float]], steps: list[int]) -> torch.Tensor:
    """(S, T, L) SVCCA-to-final curves rising from 0.5 to 1, layer l crossing 0.9 at ``times[s][l]``."""
    t = torch.tensor(steps, dtype=torch.float64)[:, None]
    out = []
    for row in times:
        c = torch.tensor(row, dtype=torch.float64)[None]
        out.append(0.5 + 0.5 * torch.clamp((t / c) * 0.8, max=1.0))  # 0.9 exactly at t = c
    return torch.stack(out)


STEPS = [0, 10, 20, 40, 80, 160, 320, 640, 1000]


def test_crossing_step_is_where_the_curve_stays_above() -> None:
    assert claims.crossing_step([0.5, 0.7, 0.95, 1.0], [0, 10, 20, 30], 0.9) == pytest.approx(18.0)
    # touching the threshold and leaving it again is not convergence: the last crossing counts
    assert claims.crossing_step([0.5, 0.95, 0.6, 0.7, 1.0], [0, 10, 20, 30, 40], 0.9) == pytest.approx(30 + 20 / 3)
    # at or above the threshold already at the start: the layer did not move, no convergence step
    assert math.isnan(claims.crossing_step([0.95, 1.0], [0, 10], 0.9))
    assert math.isnan(claims.crossing_step([0.9, 0.5, 1.0], [0, 10, 20], 0.9))
    assert math.isnan(claims.crossing_step([0.5, math.nan], [0, 10], 0.9))
    assert math.isnan(claims.crossing_step([0.5, 0.95, 0.8], [0, 10, 20], 0.9))  # ends below


def test_bottom_up_leaves_out_the_layers_that_did_not_move() -> None:
    """Layers whose SVCCA(final, initial) is already >= threshold are left out (not counted as converged at step 0,
    which would make any network with frozen deep layers look top down)."""
    layers = 6
    up = [[30 * (l + 1) + 3 * s for l in range(layers)] for s in range(4)]
    curves = _curves(up, STEPS)
    curves[:, :, 4:] = 0.97  # the two top layers barely move: all at the threshold from the start
    curves[:, -1, 4:] = 1.0
    res = claims.bottom_up(curves, STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.HOLDS and res.mean == pytest.approx(1.0), res
    assert res.details["unmoved_layers"] == [[5, 6]] * 4
    # with fewer than MIN_LAYERS layers that moved, a seed has no value
    few = curves.clone()
    few[:, :, 2:4] = 0.97
    few[:, -1, 2:4] = 1.0
    res = claims.bottom_up(few, STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.UNDECIDED and res.seeds == 0


def test_spearman_known_values() -> None:
    assert claims.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert claims.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert claims.spearman([1, 2, 3, 4], [1, 1, 2, 2]) == pytest.approx(0.894427191, rel=1e-9)  # average ranks
    assert math.isnan(claims.spearman([1, 2, 3], [5, 5, 5]))


def test_bottom_up_convergence_holds_and_reversed_fails() -> None:
    layers = 6
    up = [[30 * (l + 1) + 3 * s for l in range(layers)] for s in range(4)]
    res = claims.bottom_up(_curves(up, STEPS), STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.HOLDS and res.mean == pytest.approx(1.0), res
    down = [list(reversed(row)) for row in up]
    res = claims.bottom_up(_curves(down, STEPS), STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.FAILS and res.mean == pytest.approx(-1.0), res
    # one seed bottom up, one top down: no consistent order
    res = claims.bottom_up(_curves([up[0], down[1]], STEPS), STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.UNDECIDED, res


def test_the_decision_rule_is_symmetric() -> None:
    """The interval alone decides, in both directions: values and their negatives give mirrored outcomes, even when
    one seed has the other sign."""
    layers = 6
    rows = [[30 * (l + 1) for l in range(layers)]] * 7
    mixed = rows + [list(reversed(rows[0]))]  # Spearman 1 seven times, -1 once: mean 0.75, interval above 0
    res = claims.bottom_up(_curves(mixed, STEPS), STEPS, 0.9, group="synthetic")
    assert res.low > 0 and min(res.per_seed) < 0 and res.outcome == claims.HOLDS
    flipped = claims.bottom_up(_curves([list(reversed(r)) for r in mixed], STEPS), STEPS, 0.9, group="synthetic")
    assert flipped.outcome == claims.FAILS
    assert flipped.low == pytest.approx(-res.high) and flipped.high == pytest.approx(-res.low)


def test_fewer_than_two_seeds_is_not_decided() -> None:
    up = [[30 * (l + 1) for l in range(5)]]
    res = claims.bottom_up(_curves(up, STEPS), STEPS, 0.9, group="synthetic")
    assert res.outcome == claims.UNDECIDED and "at least 2" in res.reason
    nan = torch.full((3, len(STEPS), 5), math.nan, dtype=torch.float64)  # e.g. every network diverged
    assert claims.bottom_up(nan, STEPS, 0.9, group="synthetic").outcome == claims.UNDECIDED


def test_frozen_layers_beyond_trainable_depth() -> None:
    g = torch.Generator().manual_seed(0)
    depth, trainable = 10, 6.5
    frozen = 0.99 + 0.005 * torch.rand(4, depth, generator=g, dtype=torch.float64)
    moved = frozen.clone()
    moved[:, 6:] = 0.6 + 0.05 * torch.rand(4, depth - 6, generator=g, dtype=torch.float64)
    assert claims.frozen_beyond(frozen, trainable, group="s").outcome == claims.HOLDS
    res = claims.frozen_beyond(moved, trainable, group="s")
    assert res.outcome == claims.FAILS and res.details["layers"] == [7, 8, 9, 10]
    # only the layers beyond the trainable depth count: moving the shallow ones changes nothing
    shallow = frozen.clone()
    shallow[:, :6] = 0.3
    assert claims.frozen_beyond(shallow, trainable, group="s").outcome == claims.HOLDS
    res = claims.frozen_beyond(frozen, 14.3, group="s")
    assert res.outcome == claims.UNDECIDED and "this size" in res.reason


def test_critical_closer_to_best() -> None:
    g = torch.Generator().manual_seed(1)
    base = 0.7 + 0.02 * torch.rand(5, 8, generator=g, dtype=torch.float64)
    closer = base + 0.1
    deep = range(4, 8)
    assert claims.closer_to_best(closer, base, deep, group="s").outcome == claims.HOLDS
    assert claims.closer_to_best(base, closer, deep, group="s").outcome == claims.FAILS
    spread = torch.tensor([0.02, -0.02, 0.01, -0.01, 0.0], dtype=torch.float64)[:, None]  # mean 0
    res = claims.closer_to_best(base + spread, base, deep, group="s")
    assert res.outcome == claims.UNDECIDED and res.low < 0 < res.high
    # only the deep layers count
    shallow = base.clone()
    shallow[:, :4] += 0.3
    assert claims.closer_to_best(shallow, base, deep, group="s").outcome == claims.UNDECIDED


def test_t_quantile() -> None:
    """Against tabulated t_{0.975, dof} (to the table's 3 decimals) and the normal limit."""
    for dof, value in ((1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042), (31, 2.040), (60, 2.000), (120, 1.980)):
        assert claims.t_quantile(dof) == pytest.approx(value, abs=5e-4), dof
    # closed forms: Cauchy at 1 dof, t = (2p − 1) √(2/(4p(1 − p))) at 2
    assert claims.t_quantile(1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    assert claims.t_quantile(2) == pytest.approx(0.95 * math.sqrt(2 / (4 * 0.975 * 0.025)), rel=1e-12)
    assert claims.t_quantile(10**6) == pytest.approx(1.959963984540054, rel=1e-5)
    assert claims.t_quantile(4, 0.995) == pytest.approx(4.604, abs=5e-4)
    with pytest.raises(ValueError, match="dof"):
        claims.t_quantile(0)


def test_best_references_rule_and_ties() -> None:
    """The reference: same activation, another seed, not diverged; highest selection accuracy, then lowest
    selection loss; the start and the order of the list do not matter."""
    from types import SimpleNamespace as Spec

    from learndyn.verify.similarity_measures import best_references

    specs = [Spec(activation="relu", start=st, seed=s) for st in ("critical", "x0.5") for s in (0, 1, 2)]
    specs.append(Spec(activation="shifted", start="critical", seed=1))
    acc = torch.tensor([0.9, 0.8, 0.8, 0.7, 0.8, 0.99, 1.0])
    loss = torch.tensor([0.3, 0.5, 0.4, 0.9, 0.2, 0.1, 0.0])
    diverged = torch.tensor([-1, -1, -1, -1, -1, 7, -1])
    refs = best_references(specs, acc, loss, diverged)
    # seed 0: among seeds 1, 2 (not diverged, relu) accuracy 0.8 three times; loss 0.2 (x0.5, seed 1) wins
    assert refs[0] == 4 and refs[3] == 4
    # seed 1: the critical seed-0 network (0.9); seed 2: likewise (index 5 diverged, so it is never chosen)
    assert refs[1] == 0 and refs[4] == 0 and refs[2] == 0 and refs[5] == 0
    assert refs[6] is None  # no shifted network of another seed
    # the same choice with the starts listed the other way round (a tie in accuracy is not broken by order)
    order = [3, 4, 5, 0, 1, 2, 6]
    back = best_references([specs[i] for i in order], acc[order], loss[order], diverged[order])
    assert [order[r] if r is not None else None for r in back] == [refs[i] for i in order]
    # exact ties in both: the first listed
    same = best_references(specs[:3], torch.tensor([0.8, 0.8, 0.8]), torch.tensor([0.1, 0.1, 0.1]),
                           torch.tensor([-1, -1, -1]))
    assert same == [1, 0, 0]


def test_final_similarity_keeps_the_same_directions_on_both_sides() -> None:
    """SVCCA against the reference keeps ``keep`` directions on both sides (the library's svcca with an int keep),
    and linear CKA is the library's; a representation that collapsed to few directions is compared on as many."""
    from learndyn.verify import similarity_measures as m

    g = torch.Generator().manual_seed(5)
    acts = torch.relu(torch.randn(3, 80, 12, generator=g))
    acts[1] = acts[1] @ torch.diag(torch.tensor([1.0] * 3 + [1e-3] * 9))  # 99 % of its variance in 3 directions
    fixed, cka = m.final_similarity(acts, [1, 2], [0, 0], keep=6)
    for p, i in enumerate((1, 2)):
        assert fixed[p] == pytest.approx(float(sim.svcca(acts[i].double(), acts[0].double(), keep=6)), abs=1e-12)
        assert cka[p] == pytest.approx(float(sim.linear_cka(acts[i].double(), acts[0].double())), abs=1e-12)
    assert int(m.layer_bases(acts[1:2, None], 6).basis.kept) == 6
    nan = acts.clone()
    nan[2] = math.nan
    fixed, cka = m.final_similarity(nan, [2], [0], keep=6)
    assert math.isnan(fixed[0]) and math.isnan(cka[0])


# ------------------------------------------------------------------------------- the report


def test_report_section_has_the_definitions_and_the_claims(quick_run, tmp_path, monkeypatch) -> None:
    """``learndyn report``'s .tex holds the section: the five definitions as labelled equations and the claims with
    the outcomes of the stored run. The verification, the figures and the derivations' LaTeX are stubbed (a cold
    derivation takes minutes): what is tested is how write_report assembles the document."""
    import learndyn.derive.latex as derive_latex
    from learndyn.verify import similarity_document, verification_cache
    from learndyn.verify import figures as figures_pkg
    from learndyn.verify.report_document import write_report
    from learndyn.verify.runner import VerifyConfig

    *_, data = quick_run
    monkeypatch.setattr(verification_cache, "cached_verification",
                        lambda *a, **k: verification_cache.Verification([], [], True, "stub"))
    monkeypatch.setattr(figures_pkg, "render_figures", lambda *a, **k: [])
    monkeypatch.setattr(derive_latex, "latex_document",
                        lambda names, *, extra_body="", **k: f"% results {names}\n{extra_body}")
    monkeypatch.setattr(derive_latex, "bibliography_bibtex", lambda names: "")
    monkeypatch.setattr(similarity_document, "stored_similarity", lambda seed, device, quick: data)
    files = write_report(tmp_path, ["trainable_depth"], config=VerifyConfig(examples=1, seed=0, device="cpu"),
                         tiers=("a",), quick_figures=True, pdf=False)
    tex = files.tex.read_text(encoding="utf-8")
    assert r"\section{Representation similarity}" in tex
    for label in ("cca", "svcca", "pwcca", "linear_cka", "unbiased_cka"):
        assert rf"\label{{eq:sim:{label}}}" in tex, label
    assert r"\paragraph{Networks converge bottom up.}" in tex and r"\eqref{eq:trainable_depth}" in tex
    assert r"\eqref{eq:critical_sigma_w}" not in tex  # not in this document: no dangling reference
    first = data["claims"][0]
    assert f"{first['group']} & {first['outcome']}".replace("fails", r"\textbf{fails}") in tex
    # without a stored run: the claims as statements, no outcome table
    text = similarity_document.similarity_latex(None)
    assert r"\paragraph{Networks converge bottom up.}" in text and r"\begin{tabular}" not in text
    # a report of results the experiment does not use has no such section
    monkeypatch.setattr(similarity_document, "stored_similarity", lambda *a: pytest.fail("looked up"))
    other = write_report(tmp_path / "o", ["scalar_trajectory"], config=VerifyConfig(examples=1, seed=0, device="cpu"),
                         tiers=("a",), quick_figures=True, pdf=False)
    assert "Representation similarity" not in other.tex.read_text(encoding="utf-8")


def test_noisy_shifted_relu_critical_point() -> None:
    """The shifted ReLU's critical sigma_w with multiplicative noise satisfies both noisy conditions:
    chi = sigma_w^2 mu2 p(q*) = 1 and q* = sigma_w^2 mu2 E[phi(sqrt(q*) z)^2] + sigma_b^2 (ReLU: critical_sigma_w)."""
    import learndyn
    from learndyn.verify.similarity_experiment import critical_sigma_w

    alpha, sigma_b, mu2 = 0.5, 0.1, 1.5
    sw = critical_sigma_w("shifted", mu2, alpha, sigma_b)
    q = float(learndyn.function("shifted_relu_critical_point")(alpha=alpha, sigma_b=sigma_b).q_star)
    p = float(learndyn.function("shifted_relu_active_fraction")(q=q, alpha=alpha))
    m2 = float(learndyn.function("shifted_relu_second_moment")(q=q, alpha=alpha))
    assert sw * sw * mu2 * p == pytest.approx(1.0, rel=1e-10)
    assert sw * sw * mu2 * m2 + sigma_b**2 == pytest.approx(q, rel=1e-10)
    assert critical_sigma_w("relu", mu2, alpha, sigma_b) == pytest.approx(math.sqrt(2 / mu2), rel=1e-14)
