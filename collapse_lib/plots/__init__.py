"""Figures of the chapters: one module per chapter, whose ``FIGURES`` draw its result.

Importing the package makes the colour cycle colour-blind safe (:data:`style.OKABE_ITO`)."""
from .style import use_colour_blind_cycle

use_colour_blind_cycle()
