"""Progress bars for long loops: tqdm.auto in notebooks and terminals, silent in CI."""
from __future__ import annotations

import os


def progress_enabled() -> bool:
    """Bars are off when ``CI`` is set or ``COLLAPSE_PROGRESS=0``."""
    if os.environ.get("COLLAPSE_PROGRESS", "").strip() == "0":
        return False
    return os.environ.get("CI", "").strip().lower() not in ("1", "true", "yes")


def progress(iterable=None, *, total=None, desc=None, enabled=None):
    """Wrap ``iterable`` in a progress bar (a plain iterator when bars are off).

    In a notebook with ipywidgets the bar is a widget; without ipywidgets it falls
    back to the text bar instead of warning.
    """
    if enabled is None:
        enabled = progress_enabled()
    if not enabled:
        return iterable if iterable is not None else range(total or 0)
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False)
