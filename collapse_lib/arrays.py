"""Dataclasses of NumPy arrays that can be written to and read from ``.npz`` files.

Model parameters and training-set summaries of every vectorised family are such
records: the leading axis of each array indexes independent chains.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class ArrayRecord:
    """Base class: every field is an array (or a number) with chains on axis 0."""

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = ""):
        kwargs = {}
        for f in fields(cls):
            value = np.asarray(arrays[prefix + f.name])
            kwargs[f.name] = value.item() if value.ndim == 0 else value
        return cls(**kwargs)

    def chain(self, index):
        """The record restricted to chains ``index`` (an int keeps a chain axis of 1)."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1)
        return type(self)(
            **{
                f.name: (v[index] if isinstance(v := getattr(self, f.name), np.ndarray) and v.ndim else v)
                for f in fields(self)
            }
        )

    @property
    def chains(self) -> int:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and v.ndim:
                return v.shape[0]
        raise ValueError("record has no array field")


@dataclass
class PointSet(ArrayRecord):
    """Base class of a training set kept as its points: every field is an array
    (chains, n, ...); two sets pool by concatenating along the point axis."""

    def __add__(self, other):
        return type(self)(**{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)], axis=1)
                             for f in fields(self)})

    @property
    def n(self) -> int:
        """Points per chain."""
        return getattr(self, fields(self)[0].name).shape[1]
