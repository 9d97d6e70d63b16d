"""The papers behind the results (THEORY.md's reference list), as BibTeX entries.

A family names the keys it cites (``Family.bibliography``); :func:`bibtex` writes the ``.bib`` file of the
LaTeX export and :func:`reference_text` the one-line form used in generated docstrings."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reference", "REFERENCES", "SEEDS", "reference", "bibtex", "reference_text", "seed_text"]


@dataclass(frozen=True)
class Reference:
    """One paper: ``authors`` as ``"Last, First"``, the venue's name as printed, and its year."""

    authors: tuple[str, ...]
    title: str
    venue: str
    year: int
    kind: str = "inproceedings"

    def bibtex(self, key: str) -> str:
        """The BibTeX entry of this reference under ``key``."""
        field = "booktitle" if self.kind == "inproceedings" else "journal"
        # the title's capitals are protected by braces so that bibliography styles keep them
        return "\n".join([
            f"@{self.kind}{{{key},",
            f"  author = {{{' and '.join(self.authors)}}},",
            f"  title = {{{{{self.title}}}}},",
            f"  {field} = {{{self.venue}}},",
            f"  year = {{{self.year}}},",
            "}",
        ])

    def __str__(self) -> str:
        names = ", ".join(a.split(",")[0] for a in self.authors)
        return f"{names}. {self.title}. {self.venue} {self.year}."


#: every paper a result cites, by BibTeX key
REFERENCES: dict[str, Reference] = {
    "saxe2014exact": Reference(
        ("Saxe, Andrew M.", "McClelland, James L.", "Ganguli, Surya"),
        "Exact solutions to the nonlinear dynamics of learning in deep linear neural networks",
        "International Conference on Learning Representations (ICLR)", 2014),
    "pretorius2018learning": Reference(
        ("Pretorius, Arnu", "Kroon, Steve", "Kamper, Herman"),
        "Learning dynamics of linear denoising autoencoders",
        "International Conference on Machine Learning (ICML)", 2018),
    "pretorius2018critical": Reference(
        ("Pretorius, Arnu", "van Biljon, Elan", "Kroon, Steve", "Kamper, Herman"),
        "Critical initialisation for deep signal propagation in noisy rectifier neural networks",
        "Advances in Neural Information Processing Systems (NeurIPS)", 2018),
    "schoenholz2017deep": Reference(
        ("Schoenholz, Samuel S.", "Gilmer, Justin", "Ganguli, Surya", "Sohl-Dickstein, Jascha"),
        "Deep information propagation",
        "International Conference on Learning Representations (ICLR)", 2017),
    "pennington2018emergence": Reference(
        ("Pennington, Jeffrey", "Schoenholz, Samuel S.", "Ganguli, Surya"),
        "The emergence of spectral universality in deep networks",
        "International Conference on Artificial Intelligence and Statistics (AISTATS)", 2018),
    "jacot2018neural": Reference(
        ("Jacot, Arthur", "Gabriel, Franck", "Hongler, Cl{\\'e}ment"),
        "Neural tangent kernel: convergence and generalization in neural networks",
        "Advances in Neural Information Processing Systems (NeurIPS)", 2018),
    "tachetdescombes2018learning": Reference(
        ("Tachet des Combes, R{\\'e}mi", "Pezeshki, Mohammad", "Shabanian, Samira", "Courville, Aaron", "Bengio, Yoshua"),
        "On the learning dynamics of deep neural networks",
        "arXiv preprint arXiv:1809.06848", 2018, kind="article"),
    "advani2017high": Reference(
        ("Advani, Madhu S.", "Saxe, Andrew M."),
        "High-dimensional dynamics of generalization error in neural networks",
        "arXiv preprint arXiv:1710.03667", 2017, kind="article"),
    "xiao2020disentangling": Reference(
        ("Xiao, Lechao", "Pennington, Jeffrey", "Schoenholz, Samuel S."),
        "Disentangling trainability and generalization in deep neural networks",
        "International Conference on Machine Learning (ICML)", 2020),
}


#: the seed talks and abstracts that brought the results to this project (``Source.seed``), named so that a reader
#: can tell what they are; they are provenance, not publications to cite
SEEDS: dict[str, str] = {
    "000": "A. Pretorius's talk “Using learning dynamics to understand neural network generalisation” "
           "(Stellenbosch University, 2017)",
    "001": "A. Pretorius's talk “Theory for deep learning” (University of the Witwatersrand, 2018)",
    "002": "the abstract “On the learning dynamics of deep neural networks”",
    "003": "the talk abstract “High-dimensional dynamics of training and generalization in neural networks: "
           "insights from the linear case”",
    "004": "the slides “Disentangling trainability and generalization in deep neural networks” "
           "(L. Xiao, J. Pennington, S. S. Schoenholz)",
}


def seed_text(seed: str, where: str = "") -> str:
    """``"as summarised in A. Pretorius's talk “…” (…, 2017), eq. (2)"``, or ``""`` for a seed that is not in
    :data:`SEEDS` (a user's own result)."""
    if seed not in SEEDS:
        return ""
    return f"as summarised in {SEEDS[seed]}" + (f", {where}" if where else "")


def reference(key: str) -> Reference:
    """The reference with BibTeX key ``key`` (a clear error for an unknown one)."""
    try:
        return REFERENCES[key]
    except KeyError:
        raise KeyError(f"unknown reference {key!r}; known: {', '.join(sorted(REFERENCES))}") from None


def reference_text(key: str) -> str:
    """``"Saxe, McClelland, Ganguli. Exact solutions … ICLR 2014."``-style one line."""
    return str(reference(key))


def bibtex(keys) -> str:
    """The ``.bib`` file of ``keys`` (sorted, each once)."""
    return "\n\n".join(reference(k).bibtex(k) for k in sorted(set(keys))) + "\n"
