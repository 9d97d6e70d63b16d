"""learndyn — derive, prove, generate and verify results of the theory of neural-network learning.

>>> import learndyn
>>> learndyn.results()                                  # names of the results
>>> f = learndyn.function("scalar_trajectory")          # generated torch function
>>> f(t=100.0, x=1.0, y=2.0, u0=1e-3, lr=0.01)
>>> learndyn.result("scalar_trajectory").proof          # declaration, derivation and proof record
"""
from learndyn.api import claims, family_of, figure_data, function, result, results
from learndyn.domain import DomainError

__all__ = ["results", "function", "result", "claims", "family_of", "figure_data", "DomainError", "__version__"]
__version__ = "0.1.0"
