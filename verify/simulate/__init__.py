"""Gradient-descent simulators that check the closed forms against real training runs (batched, torch).

Family 1 (linear learning dynamics): :func:`simulate_scalar_network` (``ŷ = w2 w1 x``) and
:func:`simulate_deep_linear` (``ŷ = W_D ⋯ W_1 x`` on :func:`whitened_dataset` data).

Family 2 (regularisation): weight decay ``gamma`` in both of the above; :func:`simulate_autoencoder` (the
linear denoising autoencoder ``x̂ = W2 W1 (x + ξ)`` on :func:`covariance_dataset` data, noise sampled or
marginalised); :func:`simulate_dropout` and :func:`dropout_hitting_times` (one hidden unit with a dropout
mask, many independent runs).

Family 3 (signal propagation): :func:`propagate` (second moments ``Q^l_ab`` of the pre-activations of wide
random ReLU / shifted-ReLU networks with dropout, multiplicative Gaussian or additive noise, many networks
batched; :func:`propagate_units` draws the same networks layer by layer from the units' exact conditional law, a
batch of configurations at once, for widths of 10⁴–10⁵) and :func:`jacobian_spectrum` (mean and variance of the
spectrum of ``J Jᵀ``, ``J = ∂h^L/∂h⁰``, for noise-free networks with Gaussian or orthogonal weights);
:mod:`~learndyn.verify.simulate.signal_layer`: one wide noisy layer at a chosen input correlation, its draws held
fixed (the correlation map, its fixed point and slope per network).

Family 4 (NTK, seed 004; neural-tangents' parameterisation): :func:`empirical_kernels` (per-network NNGP and NTK
of finite-width ReLU / erf networks, the NTK contracted from ``torch.func`` gradients), :func:`train_mse`
(full-batch GD on ``1/(2 n k) ‖f(X) − Y‖²_F``, many networks batched, with each one's initial NTK),
:func:`init_params` / :func:`forward` (the networks both draw) and :func:`digits_dataset` (scikit-learn's
``load_digits``, normalised; optional dependency).

Family 5 (classification dynamics, seed 002): :func:`train_classifier` (full-batch GD on fully connected ReLU
classifiers of any depth, logistic or hinge loss, hand-derived gradients) on :func:`orthogonal_features`,
:func:`starvation_data` (and its control) and :func:`cooccurring_features`, from :func:`decoupled_start` or any
two-layer start (:func:`two_layer_start`); :func:`first_crossing` reads hitting times of a margin level.

Family 7 (representation similarity, seed 001's plan): :func:`train_noisy_mlps` (deep noisy ReLU / shifted-ReLU
classifiers trained by minibatch GD, many networks batched with common random numbers per seed, every layer's
activations on a probe set recorded at checkpoints).
"""

from .autoencoder import AutoencoderRun, CovarianceData, covariance_dataset, simulate_autoencoder
from .classification import (
    ClassificationRun,
    FeatureData,
    classifier_gradients,
    classifier_loss,
    classifier_output,
    cooccurring_features,
    decoupled_start,
    first_crossing,
    orthogonal_features,
    path_masks,
    starvation_data,
    train_classifier,
    two_layer_start,
)
from .deep_linear import Dataset, DeepLinearRun, simulate_deep_linear, whitened_dataset
from .dropout import DropoutHits, DropoutRun, dropout_hitting_times, simulate_dropout
from .noisy_mlp import NoisyMLPRun, train_noisy_mlps
from .ntk import (
    DigitsData,
    EmpiricalKernels,
    MSETraining,
    digits_dataset,
    empirical_kernels,
    forward,
    init_params,
    train_mse,
)
from .scalar import ScalarRun, simulate_scalar_network
from .signal import (
    JacobianSpectrum,
    Propagation,
    inputs_with_correlations,
    jacobian_spectrum,
    noise_factors,
    propagate,
    propagate_units,
)

__all__ = [
    "AutoencoderRun",
    "ClassificationRun",
    "CovarianceData",
    "Dataset",
    "FeatureData",
    "DeepLinearRun",
    "DigitsData",
    "DropoutHits",
    "DropoutRun",
    "EmpiricalKernels",
    "JacobianSpectrum",
    "MSETraining",
    "NoisyMLPRun",
    "Propagation",
    "ScalarRun",
    "classifier_gradients",
    "classifier_loss",
    "classifier_output",
    "cooccurring_features",
    "covariance_dataset",
    "decoupled_start",
    "digits_dataset",
    "dropout_hitting_times",
    "first_crossing",
    "empirical_kernels",
    "forward",
    "init_params",
    "inputs_with_correlations",
    "jacobian_spectrum",
    "noise_factors",
    "orthogonal_features",
    "path_masks",
    "propagate",
    "propagate_units",
    "simulate_autoencoder",
    "simulate_deep_linear",
    "simulate_dropout",
    "simulate_scalar_network",
    "starvation_data",
    "train_classifier",
    "train_mse",
    "train_noisy_mlps",
    "two_layer_start",
    "whitened_dataset",
]
