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

Family 6 (generalisation dynamics, Advani & Saxe 2017): :func:`student_teacher_data` (a batch of linear
student–teacher realisations, several ``α = P/N`` padded into one tensor), :func:`simulate_linear_student`
(full-batch GD on the summed squared loss, ``E_g`` and ``E_t`` recorded), :func:`exact_linear_student` (the
same per realisation from the sample spectrum, gradient flow or discrete GD), :func:`frozen_subspace_motion`,
:func:`simulate_two_layer_student` (``ŷ = a·(W x)``) and :func:`pretraining_comparison` (deep linear networks
from an aligned against a random start of equal norm: per-mode half-learning times).

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
from .linear_student import (
    LinearStudentData,
    LinearStudentExact,
    LinearStudentRun,
    PretrainingComparison,
    SampleSpectrum,
    TwoLayerStudentRun,
    exact_linear_student,
    frozen_subspace_motion,
    pretraining_comparison,
    sample_spectrum,
    simulate_linear_student,
    simulate_two_layer_student,
    student_teacher_data,
    two_layer_student_gradients,
    two_layer_student_loss,
)
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
    "LinearStudentData",
    "LinearStudentExact",
    "LinearStudentRun",
    "MSETraining",
    "NoisyMLPRun",
    "PretrainingComparison",
    "Propagation",
    "SampleSpectrum",
    "ScalarRun",
    "TwoLayerStudentRun",
    "classifier_gradients",
    "classifier_loss",
    "classifier_output",
    "cooccurring_features",
    "covariance_dataset",
    "decoupled_start",
    "digits_dataset",
    "dropout_hitting_times",
    "first_crossing",
    "frozen_subspace_motion",
    "empirical_kernels",
    "exact_linear_student",
    "forward",
    "init_params",
    "inputs_with_correlations",
    "jacobian_spectrum",
    "noise_factors",
    "orthogonal_features",
    "path_masks",
    "pretraining_comparison",
    "propagate",
    "propagate_units",
    "sample_spectrum",
    "simulate_autoencoder",
    "simulate_deep_linear",
    "simulate_dropout",
    "simulate_linear_student",
    "simulate_scalar_network",
    "simulate_two_layer_student",
    "starvation_data",
    "student_teacher_data",
    "train_classifier",
    "train_mse",
    "train_noisy_mlps",
    "two_layer_student_gradients",
    "two_layer_student_loss",
    "two_layer_start",
    "whitened_dataset",
]
