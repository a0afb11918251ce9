"""Soft matching distance (Khosla & Williams 2023, "Soft matching distance: a metric on neural
representations that captures single-neuron tuning", UniReps workshop, NeurIPS).

The units of the model and the cells of one animal are two point clouds of tuning curves
(their responses over the spatial bins). The soft matching distance is the 2-Wasserstein
distance between the uniform distributions on the two clouds: the cheapest way to transport
mass ``1/N_x`` from every unit to mass ``1/N_y`` at every cell,

``d(X, Y)² = min_P Σ_ij P_ij ‖x̂_i - ŷ_j‖²``,  ``P ≥ 0``, ``P 1 = 1/N_x``, ``Pᵀ 1 = 1/N_y``.

Tuning curves are compared after centring and scaling to unit norm over the bins (``x̂``),
so ``‖x̂_i - ŷ_j‖² = 2 (1 - r_ij)`` with ``r_ij`` the Pearson r between unit ``i`` and cell
``j``: ``d`` lies in ``[0, 2]``, and ``1 - d²/2 = Σ_ij P_ij r_ij`` is the transport-weighted
mean correlation of matched pairs (the *score*, in ``[-1, 1]``). When ``N_x = N_y`` the
optimal plan is a permutation (a vertex of the Birkhoff polytope) and the distance reduces to
the one-to-one matching distance.

Solvers
-------
``assignment``
    Equal sizes only: :func:`scipy.optimize.linear_sum_assignment` (exact).
``linprog``
    Any sizes: the transportation linear program solved exactly by HiGHS
    (:func:`scipy.optimize.linprog`) with ``N_x · N_y`` variables and ``N_x + N_y`` equality
    constraints (marginals scaled to the integers ``N_y`` and ``N_x`` for conditioning). No
    entropic regularisation (Sinkhorn) is used.
``auto``
    ``assignment`` for equal sizes, ``linprog`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError

from ._data import paired_bins, zscore_columns

__all__ = ["SOLVERS", "SoftMatchingResult", "SoftMatching", "soft_matching",
           "transport_plan"]

SOLVERS = ("auto", "assignment", "linprog")


@dataclass(frozen=True)
class SoftMatchingResult:
    """Result of :func:`soft_matching`.

    Attributes
    ----------
    distance : float
        Soft matching distance in ``[0, 2]``; lower is more similar.
    score : float
        ``1 - distance² / 2``: transport-weighted mean Pearson r of matched unit–cell pairs.
    plan : ndarray (n_units, n_cells)
        Optimal transport plan over the input columns: rows of kept units sum to
        ``1 / n_kept_units``, columns of kept cells to ``1 / n_kept_cells``; rows and columns
        of dropped (constant) columns are 0.
    units, cells : int ndarray
        Input columns that took part (constant ones are dropped).
    n_bins : int
        Bins used.
    solver : str
        ``"assignment"`` or ``"linprog"``.
    """

    distance: float
    score: float
    plan: np.ndarray
    units: np.ndarray
    cells: np.ndarray
    n_bins: int
    solver: str


def _check_solver(solver: str) -> None:
    if solver not in SOLVERS:
        raise UnknownIdentifierError("soft matching solver", solver, SOLVERS)


def transport_plan(cost: np.ndarray, *, solver: str = "auto") -> tuple[np.ndarray, str]:
    """Optimal transport plan between uniform marginals for a cost matrix.

    Parameters
    ----------
    cost : array (n_sources, n_targets)
        Finite costs.
    solver : {"auto", "assignment", "linprog"}
        See the module docstring.

    Returns
    -------
    plan : ndarray (n_sources, n_targets)
        Rows sum to ``1 / n_sources``, columns to ``1 / n_targets``.
    solver : str
        The solver used.
    """
    _check_solver(solver)
    C = np.asarray(cost, dtype=np.float64)
    if C.ndim != 2 or min(C.shape) < 1:
        raise DataError(f"cost must be a non-empty 2-D matrix; got shape {C.shape}")
    if not np.isfinite(C).all():
        raise DataError("cost contains non-finite values")
    p, q = C.shape
    if solver == "auto":
        solver = "assignment" if p == q else "linprog"
    if solver == "assignment":
        if p != q:
            raise ConfigError(f"solver='assignment' needs as many units as cells; got {p} and "
                              f"{q} (use 'linprog')")
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(C)
        plan = np.zeros((p, q))
        plan[rows, cols] = 1.0 / p
        return plan, "assignment"
    import scipy.sparse as sp
    from scipy.optimize import linprog

    # variable (i, j) at i * q + j; row sums q, column sums p: the plan times p * q
    idx = np.arange(p * q)
    A_rows = sp.csr_matrix((np.ones(p * q), (idx // q, idx)), shape=(p, p * q))
    A_cols = sp.csr_matrix((np.ones(p * q), (idx % q, idx)), shape=(q, p * q))
    A = sp.vstack([A_rows, A_cols], format="csc")
    b = np.concatenate([np.full(p, float(q)), np.full(q, float(p))])
    res = linprog(C.ravel(), A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    if res.status != 0 or res.x is None:
        raise DataError(f"the soft-matching transport problem ({p} x {q}) was not solved: "
                        f"{res.message}")
    plan = np.maximum(res.x.reshape(p, q), 0.0) / (p * q)
    return plan, "linprog"


def _correlations(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pearson r (n_units, n_cells) of every unit with every cell (0 for constant ones)."""
    return zscore_columns(X).T @ zscore_columns(Y)


class SoftMatching:
    """Soft matching fitted on some bins and evaluated on others.

    Parameters
    ----------
    solver : {"auto", "assignment", "linprog"}

    Attributes
    ----------
    plan_ : ndarray (n_units, n_cells)
        Optimal plan on the training bins.
    distance_, score_ : float
        Distance and transport-weighted mean r on the training bins.
    """

    def __init__(self, solver: str = "auto"):
        self.solver = solver

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (scikit-learn convention)."""
        return {"solver": self.solver}

    def fit(self, X, Y) -> SoftMatching:
        """Optimal plan between the columns of finite ``X`` (n_bins, n_units) and ``Y``
        (n_bins, n_cells); columns constant on these bins have r = 0 with everything."""
        _check_solver(self.solver)
        X, Y = _pair(X, Y)
        R = _correlations(X, Y)
        self.plan_, self.solver_ = transport_plan(1.0 - R, solver=self.solver)
        self.score_ = float(np.einsum("ij,ij->", self.plan_, R))
        self.distance_ = _distance(self.score_)
        return self

    def score(self, X, Y) -> float:
        """Transport-weighted mean Pearson r on other bins under the fitted plan (higher is
        more similar); the distance is ``sqrt(2 (1 - score))``."""
        if not hasattr(self, "plan_"):
            raise ConfigError("this SoftMatching is not fitted yet; call fit(X, Y) first")
        X, Y = _pair(X, Y)
        if (X.shape[1], Y.shape[1]) != self.plan_.shape:
            raise DataError(f"X and Y have {X.shape[1]} and {Y.shape[1]} columns but the plan "
                            f"was fitted on {self.plan_.shape}")
        return float(np.einsum("ij,ij->", self.plan_, _correlations(X, Y)))


def _distance(score: float) -> float:
    return float(np.sqrt(max(2.0 * (1.0 - score), 0.0)))


def _pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, A in (("X", X), ("Y", Y)):
        arr = np.asarray(A, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 1 or arr.shape[0] < 2:
            raise DataError(f"{name} must be 2-D (n_bins >= 2, n_columns >= 1); got shape "
                            f"{arr.shape}")
        if not np.isfinite(arr).all():
            raise DataError(f"{name} contains NaN or inf; drop unvisited bins first "
                            "(soft_matching() does)")
        out.append(arr)
    if out[0].shape[0] != out[1].shape[0]:
        raise DataError(f"X has {out[0].shape[0]} bins but Y has {out[1].shape[0]}")
    return out[0], out[1]


def soft_matching(X, Y, *, solver: str = "auto") -> SoftMatchingResult:
    """Soft matching distance between a model's units and an animal's cells.

    Parameters
    ----------
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses per bin.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal; NaN marks unvisited bins.
    solver : {"auto", "assignment", "linprog"}
        Exact solver (module docstring).

    Returns
    -------
    SoftMatchingResult
        ``distance`` (lower is more similar), ``score`` (higher is more similar) and the
        transport ``plan``.

    Notes
    -----
    Bins NaN in any column of either input, and constant columns, are dropped
    (:func:`mecbench.similarity.paired_bins`). The linear program has
    ``n_units · n_cells`` variables; see the package documentation for timings.
    """
    _check_solver(solver)
    pb = paired_bins(X, Y, min_bins=2)
    m = SoftMatching(solver).fit(pb.X, pb.Y)
    plan = np.zeros((pb.n_units, pb.n_cells))
    plan[np.ix_(pb.units, pb.cells)] = m.plan_
    return SoftMatchingResult(m.distance_, m.score_, plan, pb.units, pb.cells,
                              int(pb.bins.size), m.solver_)
