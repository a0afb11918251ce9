"""Spatial analysis of rate maps: autocorrelograms, grid scores, spacing/orientation/ellipticity,
grid modules, border scores, head-direction tuning and effective dimensionality.

Every function takes one map ``(X, Y)`` or a stack ``(X, Y, n)`` (the layout of rate-map
arrays, NaN = unvisited) and is vectorised over the stack; the ``*_scores`` / ``grid_properties``
/ ``fraction_grid`` helpers take a rate-map :class:`xarray.DataArray` and keep neuroid labels.
Head direction is not in the rate maps: :func:`recording_head_direction_tuning` and
:func:`head_direction_scores` start from the loaders' :class:`~mecbench.loaders.Recording`
objects (two-LED sessions); :func:`head_direction_tuning` / :func:`head_direction_mvl` take
per-sample arrays.
"""

from mecbench.analysis.autocorrelation import autocorrelogram
from mecbench.analysis.border import border_score, border_scores
from mecbench.analysis.dimensionality import (
    eigenspectrum,
    n_components_for_variance,
    participation_ratio,
    participation_ratio_of_spectrum,
)
from mecbench.analysis.gridscore import (
    FORMS,
    deepmind_annuli,
    fraction_grid,
    grid_analysis,
    grid_properties,
    grid_score,
    grid_scores,
    grid_spacing_orientation,
    peak_ellipse,
    rotational_correlations,
    square_score,
)
from mecbench.analysis.head_direction import (
    head_direction_mvl,
    head_direction_tuning,
    mean_vector_length,
)
from mecbench.analysis.head_direction_recordings import (
    head_direction_scores,
    recording_head_direction_tuning,
)
from mecbench.analysis.modules import ModuleAssignment, assign_modules, grid_modules

__all__ = [
    "FORMS",
    "ModuleAssignment",
    "assign_modules",
    "autocorrelogram",
    "border_score",
    "border_scores",
    "deepmind_annuli",
    "eigenspectrum",
    "fraction_grid",
    "grid_analysis",
    "grid_modules",
    "grid_properties",
    "grid_score",
    "grid_scores",
    "grid_spacing_orientation",
    "head_direction_mvl",
    "head_direction_scores",
    "head_direction_tuning",
    "mean_vector_length",
    "n_components_for_variance",
    "participation_ratio",
    "participation_ratio_of_spectrum",
    "peak_ellipse",
    "recording_head_direction_tuning",
    "rotational_correlations",
    "square_score",
]
