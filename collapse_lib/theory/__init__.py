"""Closed forms drawn over the simulations of the course."""
from . import categorical, gaussian, linreg, zipf

__all__ = ["categorical", "gaussian", "linreg", "zipf"]
