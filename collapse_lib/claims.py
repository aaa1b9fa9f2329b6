"""Claims a chapter makes about its own run, computed from the run's numbers.

A sentence such as "without real data the test perplexity keeps rising" is only true of
the run the page shows if the run's numbers say so. Each experiment module therefore
gives a ``claims(result)`` function that returns :class:`Claim` objects by key: the statement,
the measured numbers behind it, and whether the numbers bear it out. The page prints
them where its prose makes them (:func:`report`), so a profile whose numbers contradict
a statement shows that, in the page, instead of a false sentence.

The tests run with ``COLLAPSE_STRICT_CLAIMS=1`` (``scripts/test.sh``), under which
:func:`report` raises :class:`ClaimFailed` for any claim that does not hold: every
chapter's claims are asserted in the ``quick`` profile by the chapter executions.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

#: Environment variable that turns a claim that does not hold into an error.
STRICT_ENV = "COLLAPSE_STRICT_CLAIMS"


class ClaimFailed(AssertionError):
    """A claim of the chapter does not hold in this run (raised in strict mode)."""


@dataclass(frozen=True)
class Claim:
    """One statement about a run: ``evidence`` gives the measured numbers behind it."""

    statement: str  # the sentence the page makes, in plain words
    holds: bool  # whether the run's numbers bear it out
    evidence: str  # the numbers, formatted for the reader

    def __post_init__(self):
        object.__setattr__(self, "holds", bool(self.holds))

    def as_dict(self) -> dict:
        return asdict(self)


def claim(statement: str, holds, evidence: str) -> Claim:
    """A :class:`Claim`; ``holds`` may be a NumPy boolean."""
    return Claim(statement, bool(holds), evidence)


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


class ClaimReport:
    """What the page shows: a list of claims, each marked as holding or not."""

    def __init__(self, claims: Iterable[Claim], profile: str | None = None):
        self.claims = list(claims)
        self.profile = profile

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.holds]

    def _where(self) -> str:
        return f"the {self.profile} profile" if self.profile else "this run"

    def __str__(self) -> str:
        lines = [f"Checked on the numbers of this run ({self._where()}):"]
        for c in self.claims:
            mark = "holds" if c.holds else "DOES NOT HOLD in this run"
            lines.append(f"  [{mark}] {c.statement} ({c.evidence})")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        lines = [f"**Checked on the numbers of this run** ({self._where()}):", ""]
        for c in self.claims:
            mark = "✔ holds" if c.holds else "✘ **does not hold in this run**"
            lines.append(f"- {mark}: {c.statement} ({c.evidence})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def report(claims: Iterable[Claim] | Mapping[str, Claim], profile: str | None = None,
           keys: Iterable[str] | None = None) -> ClaimReport:
    """The claims for display in a chapter; in strict mode, raise if one does not hold.

    ``claims`` is a chapter's ``claims(res)``, keyed; ``keys`` picks the ones a paragraph
    makes (all of them when None), so that a new claim cannot slip under another paragraph."""
    if isinstance(claims, Mapping):
        if keys is not None:
            keys = list(keys)
            missing = [k for k in keys if k not in claims]
            if missing:
                raise KeyError(f"no claim {', '.join(map(repr, missing))}: the claims are {', '.join(claims)}")
        claims = [claims[k] for k in keys] if keys is not None else list(claims.values())
    elif keys is not None:
        raise TypeError("keys picks claims from a mapping {key: Claim}, such as a chapter's claims(res)")
    rep = ClaimReport(claims, profile)
    if strict() and rep.failed:
        raise ClaimFailed("claims that do not hold in this run:\n" + "\n".join(
            f"- {c.statement} ({c.evidence})" for c in rep.failed))
    return rep
