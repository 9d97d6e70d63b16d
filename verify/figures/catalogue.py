"""The catalogue of figures: for each, the results it shows, its one-line caption, its data and its plot.

:data:`FIGURES` is ordered by seed (000, 001, 002, 003, 004) and, within a seed, by family. A data function takes
``seed``, ``device`` and ``quick`` and returns a JSON-able dict (theory, simulation, settings and the
``agreement`` records of :mod:`learndyn.verify.figures.agreement`); a plot function takes that dict and the
caption and returns a :class:`matplotlib.figure.Figure`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import (data_seed000, data_seed001, data_seed002, data_seed003, data_seed004, data_similarity, plot_seed000,
               plot_seed001, plot_seed002, plot_seed003, plot_seed004, plot_similarity)

__all__ = ["FigureSpec", "FIGURES"]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: ``name`` (its file stem), the ``seed`` document and ``family`` it comes from, the ``results``
    (generated functions) it shows, its one-line ``caption`` (matplotlib mathtext, i.e. LaTeX math in ``$…$``), its
    ``data(seed=, device=, quick=) -> dict`` and its ``plot(data, caption) -> matplotlib.figure.Figure``."""

    name: str
    seed: str
    family: int
    results: tuple[str, ...]
    caption: str
    data: Callable[..., dict]
    plot: Callable[[dict, str], object]


_ALL = (
    FigureSpec(
        "scalar_learning_curve", "000", 1, ("scalar_trajectory",),
        r"Scalar linear network $\hat y = w_2 w_1 x$: exact learning curve $u(t) = w_2 w_1$ against gradient descent",
        data_seed000.scalar_learning_curve, plot_seed000.scalar_learning_curve),
    FigureSpec(
        "deep_linear_modes", "000", 1, ("mode_trajectory", "deep_mode_trajectory"),
        r"Deep linear networks learn the modes of $\Sigma^{31} = USV^\top$ in order of their singular value $s$",
        data_seed000.deep_linear_modes, plot_seed000.deep_linear_modes),
    FigureSpec(
        "weight_decay_vs_noise", "000", 2, ("weight_decay_trajectory", "dae_trajectory", "noise_equivalent_decay"),
        r"Regularisation: weight decay lowers the plateau to $s - \gamma$; input noise lowers it without slowing "
        r"learning, the weight decay of the same plateau is slower",
        data_seed000.weight_decay_vs_noise, plot_seed000.weight_decay_vs_noise),
    FigureSpec(
        "dropout_time", "000", 2, ("dropout_expected_time", "dropout_time_bound"),
        r"Dropout slows learning by $1/p$: expected learning time and its $O(\tau/(sp))$ bound",
        data_seed000.dropout_time, plot_seed000.dropout_time),
    FigureSpec(
        "variance_dynamics", "001", 3, ("variance_after_depth", "critical_sigma_w"),
        r"Variance dynamics of noisy ReLU networks: the critical $\sigma_w = \sqrt{2/\mu_2}$ preserves $q^l$",
        data_seed001.variance_dynamics, plot_seed001.variance_dynamics),
    FigureSpec(
        "correlation_dynamics", "001", 3, ("correlation_map", "correlation_fixed_point"),
        r"Correlation dynamics at criticality: noise drives every pair of inputs to $c^* < 1$",
        data_seed001.correlation_dynamics, plot_seed001.correlation_dynamics),
    FigureSpec(
        "fixed_point_vs_noise", "001", 3,
        ("correlation_fixed_point", "correlation_slope", "correlation_depth_scale", "trainable_depth"),
        r"Noise limits how deep inputs stay distinguishable: $c^*$ and $\xi_c$ against noise strength",
        data_seed001.fixed_point_vs_noise, plot_seed001.fixed_point_vs_noise),
    FigureSpec(
        "representation_similarity", "001", 7,
        ("critical_sigma_w", "shifted_relu_critical_point", "trainable_depth", "variance_map"),
        r"Seed 001's plan: SVCCA of deep noisy ReLU and shifted-ReLU networks trained on digits from critical and "
        r"off-critical starts, against training time and layer",
        data_similarity.representation_similarity, plot_similarity.representation_similarity),
    FigureSpec(
        "margin_curves", "002", 5,
        ("classification_mode_trajectory", "margin_inflection", "hinge_stopping_time"),
        r"Margins of ReLU classifiers: sigmoidal from depth 2, the hinge loss stops at $m = 1$ sooner than the "
        r"logistic loss",
        data_seed002.margin_curves, plot_seed002.margin_curves),
    FigureSpec(
        "failure_phase_diagram", "002", 5, ("wrong_sign_crossing_time",),
        r"The start decides: a unit learns iff $a_0 > 0$ and ($c\,v_0 > 0$ or $a_0 > |v_0|$); otherwise it dies",
        data_seed002.failure_phase_diagram, plot_seed002.failure_phase_diagram),
    FigureSpec(
        "starvation", "002", 5, ("starved_margin", "classification_mode_trajectory"),
        r"Gradient starvation: a frequent feature stops the learning of a rare one that appears with it",
        data_seed002.starvation, plot_seed002.starvation),
    FigureSpec(
        "generalisation_curves", "003", 6,
        ("generalisation_error", "training_error", "gd_generalisation_error", "gd_training_error",
         "generalisation_error_limit", "training_error_limit", "optimal_stopping_time"),
        r"A linear student in high dimension: $E_t$ falls while $E_g$ has a minimum, then overtrains (without bound at "
        r"$\alpha = 1$)",
        data_seed003.generalisation_curves, plot_seed003.generalisation_curves),
    FigureSpec(
        "overtraining_peak", "003", 6, ("overtraining", "optimal_stopping_time", "generalisation_error_limit"),
        r"Overtraining $E_g(\infty) - \min_t E_g$ peaks at $\alpha = P/N = 1$; early stopping removes the peak",
        data_seed003.overtraining_peak, plot_seed003.overtraining_peak),
    FigureSpec(
        "stopping_time_scaling", "003", 6, ("optimal_stopping_time",),
        r"The optimal stopping time grows like $\ln(\mathrm{snr})/\lambda_-$ for $\alpha \neq 1$ and linearly in "
        r"$\mathrm{snr}$ at $\alpha = 1$",
        data_seed003.stopping_time_scaling, plot_seed003.stopping_time_scaling),
    FigureSpec(
        "ntk_phase_diagram", "004", 4, ("chi1", "kernel_depth_scales", "kernel_fixed_point", "nngp_kernel"),
        r"NTK phase diagram of erf networks: the ordered/chaotic boundary $\chi_1 = 1$ and the depth scale $\xi_c$",
        data_seed004.ntk_phase_diagram, plot_seed004.ntk_phase_diagram),
    FigureSpec(
        "ntk_depth_metrics", "004", 4,
        ("ntk_kernel", "ntk_condition_number", "mean_prediction", "chi1", "kernel_depth_scales"),
        r"Trainability against generalisation with depth: $\kappa$ and the mean prediction in both phases",
        data_seed004.ntk_depth_metrics, plot_seed004.ntk_depth_metrics),
    FigureSpec(
        "ntk_mse_dynamics", "004", 4, ("mse_train_prediction", "mse_test_prediction", "ntk_kernel"),
        r"Wide networks trained by gradient descent follow the NTK's closed-form MSE dynamics",
        data_seed004.ntk_mse_dynamics, plot_seed004.ntk_mse_dynamics),
)

#: name → :class:`FigureSpec`, in the order the figures are rendered
FIGURES: dict[str, FigureSpec] = {f.name: f for f in _ALL}
