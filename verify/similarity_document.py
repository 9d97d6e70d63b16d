"""The report's section on representation similarity (family 7): the definitions of CCA, SVCCA, PWCCA and linear
CKA (biased and unbiased) as numbered equations, and the claims of the experiment of seed 001's plan — with their
outcomes where a run of :mod:`learndyn.verify.similarity_experiment` is stored for the report's seed, device and
size (:mod:`learndyn.verify.similarity_store`), as statements otherwise."""
from __future__ import annotations

import math

__all__ = ["DEFINITIONS", "CLAIMS", "similarity_latex", "stored_similarity"]

#: (label, lead-in sentence, equation), in the order of the section
DEFINITIONS = (
    ("cca", r"The canonical correlations of activations $A \in \mathbb{R}^{n\times p}$ and "
            r"$B \in \mathbb{R}^{n\times q}$ of the same $n$ examples, centred ($A_c = (I - \mathbf{1}\mathbf{1}^\top/n)A$), "
            r"are the cosines of the principal angles between their column spaces (Bj\"orck and Golub 1973), from "
            r"orthonormal bases, never from inverted covariances:",
     r"\rho_i = \sigma_i\bigl(Q_a^\top Q_b\bigr), \qquad \operatorname{span} Q_a = \operatorname{span} A_c,\quad "
     r"Q_a^\top Q_a = I, \qquad i \le \min(\operatorname{rank} A_c, \operatorname{rank} B_c)."),
    ("svcca", r"SVCCA (Raghu, Gilmer, Yosinski and Sohl-Dickstein 2017) keeps the $k_a$ leading left singular "
              r"directions $U_{a,k_a}$ of $A_c$ (the fewest that hold a fraction $f$ of the variance "
              r"$\sum_i \sigma_i^2$; $f = 0.99$ here) and $k_b$ of $B_c$, and averages their canonical correlations:",
     r"\operatorname{svcca}(A, B) = \frac{1}{c}\sum_{i=1}^{c} \rho_i\bigl(U_{a,k_a}, U_{b,k_b}\bigr), \qquad "
     r"c = \min(k_a, k_b)."),
    ("pwcca", r"PWCCA (Morcos, Raghu and Bengio 2018) weights each canonical correlation by how much of $A$'s centred "
              r"neurons $a_j$ its canonical variate $h_i$ (a unit vector over the examples) accounts for:",
     r"\operatorname{pwcca}(A, B) = \sum_{i=1}^{c} \alpha_i \rho_i, \qquad \alpha_i = "
     r"\frac{\tilde\alpha_i}{\sum_{k} \tilde\alpha_k}, \quad \tilde\alpha_i = \sum_j \lvert\langle h_i, a_j\rangle\rvert."),
    ("linear_cka", r"Linear CKA (Kornblith, Norouzi, Lee and Hinton 2019) of the centred activations $X = A_c$, "
                   r"$Y = B_c$:",
     r"\operatorname{cka}(A, B) = \frac{\lVert X^\top Y\rVert_F^2}{\lVert X^\top X\rVert_F \, \lVert Y^\top Y\rVert_F}."),
    ("unbiased_cka", r"Its unbiased form replaces the biased HSIC by the unbiased estimator of Song et al.\ (2012) on "
                     r"the Gram matrices with zeroed diagonals, $\tilde K = XX^\top - \operatorname{diag}(XX^\top)$ "
                     r"and $\tilde L$ alike:",
     r"\begin{aligned} \operatorname{cka}_u(A, B) &= \frac{\operatorname{HSIC}_1(\tilde K, \tilde L)}"
     r"{\sqrt{\operatorname{HSIC}_1(\tilde K, \tilde K)\,\operatorname{HSIC}_1(\tilde L, \tilde L)}}, \\ "
     r"\operatorname{HSIC}_1(\tilde K, \tilde L) &= \frac{1}{n(n-3)}\Bigl[\operatorname{tr}(\tilde K \tilde L) + "
     r"\frac{\mathbf{1}^\top \tilde K \mathbf{1}\, \mathbf{1}^\top \tilde L \mathbf{1}}{(n-1)(n-2)} - "
     r"\frac{2}{n-2}\,\mathbf{1}^\top \tilde K \tilde L \mathbf{1}\Bigr]. \end{aligned}"),
)

#: claim name → (title, statement in LaTeX)
CLAIMS = {
    "bottom_up": (
        "Networks converge bottom up",
        r"Lower layers reach their final representation earlier (Raghu et al.\ 2017). Per seed: Spearman's rank "
        r"correlation, over the layers that moved ($\operatorname{svcca}(\text{final}, \text{initial})$ below the "
        r"threshold), between the layer index and the step from which the layer's SVCCA to its own final state "
        r"stays at or above the threshold; it holds when the 95\,\% interval of the mean over seeds lies above 0, "
        r"and fails when it lies below 0."),
    "frozen_beyond_trainable_depth": (
        "Layers beyond the trainable depth do not learn off criticality",
        r"From an off-critical start, the ReLU layers deeper than $\texttt{trainable\_depth}(\mu_2) = 6\xi_c$"
        r"<<trainable_depth>> (one depth for every ReLU start: it depends on $\mu_2$ only) end within SVCCA $0.95$ "
        r"of their initial state. Per seed: the mean over those "
        r"layers of $1 - \operatorname{svcca}(\text{final}, \text{initial})$; it holds when the 95\,\% interval "
        r"lies below $0.05$, and fails when it lies above."),
    "critical_closer_to_best": (
        "The critical start brings deep layers closer to the reference network",
        r"Per seed: the mean over the upper half of the layers of $\operatorname{svcca}_k(\text{critical}, "
        r"\text{ref}) - \operatorname{svcca}_k(\text{off-critical}, \text{ref})$ at the end of training, with "
        r"the same number $k$ of directions kept on both sides; a network's reference is the one of the same "
        r"activation from another seed with the highest accuracy on held-out selection rows (ties: the lowest "
        r"cross-entropy there), which are neither training nor probe rows; it holds when the 95\,\% "
        r"interval lies above 0, and fails when it lies below 0. Each claim and group is decided on its own, "
        r"without correction for multiplicity."),
}

_NOISE = {"gaussian": "multiplicative Gaussian noise of variance", "dropout": "dropout with keep probability",
          "additive": "additive Gaussian noise of variance", "none": "no noise, strength"}
_OUTCOME = {"holds": "holds", "fails": r"\textbf{fails}", "not decided": "not decided"}


def _num(v) -> str:
    return "--" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"${v:.3g}$"


def _depth(v) -> str:
    """``trainable_depth`` in math: ``\\infty`` for ``None`` (JSON's infinity, e.g. without multiplicative noise)."""
    return r"\infty" if v is None or not math.isfinite(v) else f"{v:.3g}"


def _text(s: str) -> str:
    from learndyn.derive.latex_prose import prose_latex

    return prose_latex(s)


def _experiment_paragraph(data: dict | None) -> list[str]:
    base = (r"The experiment (\texttt{learndyn similarity-experiment}) trains deep ReLU and shifted-ReLU "
            r"($\phi(h) = \max(0, h + \alpha) - \alpha$) networks with noise on scikit-learn's digits "
            r"by minibatch gradient descent, from the critical initialisation (\texttt{critical\_sigma\_w}"
            r"<<critical_sigma_w>>, and \texttt{shifted\_relu\_critical\_point}<<shifted_relu_critical_point>> with "
            r"$\sigma_w^2\mu_2$ in place of $\sigma_w^2$) and from "
            r"off-critical ones ($\sigma_w^2$ scaled), and compares the layers with SVCCA over training: to their own "
            r"final and initial state, across starts, to a reference network, and ReLU against shifted ReLU"
            r"<<figure>>.")
    if data is None:
        return [base + r" No run of it is stored for this report's seed and device, so the claims below are "
                r"stated without their outcomes.", ""]
    c, th = data["config"], data["theory"]
    return [base + (rf" The run reported here: {c['depth']} layers of {c['width']} units, {c['seeds']} seeds, "
                    rf"{c['steps']} steps, {_NOISE[c['noise']]} ${c['noise_strength']:g}$ "
                    rf"($\mu_2 = {th['mu2']:.3g}$, $\texttt{{trainable\_depth}} = {_depth(th['trainable_depth'])}$), "
                    rf"off-critical factors {', '.join(f'${f:g}$' for f in c['factors'])} of $\sigma_w^2$, on "
                    rf"{c['n_train']} training, {c['n_probe']} probe and {c.get('n_select', 0)} selection rows; device {_text(data['device'])}."), ""]


def _references(text: str, results: set[str] | None, figure: bool) -> str:
    """``<<name>>`` as `` \\eqref{eq:name}`` where the document holds result ``name`` (all do for
    ``results=None``), else nothing; ``<<figure>>`` as a reference to the figure where the document draws it."""
    import re

    def result(m: re.Match) -> str:
        name = m.group(1)
        if name == "figure":
            return r" (Figure~\ref{fig:representation_similarity})" if figure else ""
        return rf"~\eqref{{eq:{name}}}" if results is None or name in results else ""

    return re.sub(r"<<(\w+)>>", result, text)


def similarity_latex(data: dict | None, *, results: set[str] | None = None, figure: bool = False) -> str:
    """The section (module docstring) for a stored run's JSON ``data``, or without outcomes for ``None``.
    ``results``: the results whose equations the document holds (``None``: all), referenced by ``\\eqref``;
    ``figure``: whether the document draws the figure ``representation_similarity``."""
    lines = [r"\section{Representation similarity}", r"\label{sec:similarity}", ""]
    for label, lead, equation in DEFINITIONS:
        lines += [lead, r"\begin{equation}", equation, rf"\label{{eq:sim:{label}}}", r"\end{equation}", ""]
    lines += [r"\subsection*{Seed 001's plan}", *_experiment_paragraph(data), r"\subsection*{Claims}", ""]
    rows: dict[str, list[dict]] = {}
    for r in (data or {}).get("claims", []):
        rows.setdefault(r["claim"], []).append(r)
    for claim, (title, statement) in CLAIMS.items():
        lines += [rf"\paragraph{{{title}.}} {statement}", ""]
        found = rows.get(claim, [])
        if not found:
            continue
        lines += [r"\begin{center}", r"\begin{tabular}{@{}llrrr@{}}", r"\hline",
                  r"networks & outcome & mean & 95\,\% interval & seeds \\ \hline"]
        for r in found:
            interval = "--" if r["low"] is None else rf"[{_num(r['low'])}, {_num(r['high'])}]"
            lines.append(rf"{_text(r['group'])} & {_OUTCOME[r['outcome']]} & {_num(r['mean'])} & {interval} & "
                         rf"{r['seeds']} \\")
        lines += [r"\hline", r"\end{tabular}", r"\end{center}", ""]
    return _references("\n".join(lines), results, figure)


def stored_similarity(seed: int, device: str, quick: bool) -> dict | None:
    """The stored run for a report drawn with ``seed``, ``device`` and quick figures (or not), or ``None``."""
    from learndyn.verify.similarity_experiment import SimilarityConfig
    from learndyn.verify.similarity_store import load_stored

    config = SimilarityConfig.quick(seed=seed) if quick else SimilarityConfig(seed=seed)
    return load_stored(config, device)
