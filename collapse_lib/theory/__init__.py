"""Closed forms drawn over the simulations of the course."""
from . import categorical, gaussian, zipf

__all__ = ["categorical", "gaussian", "zipf"]
