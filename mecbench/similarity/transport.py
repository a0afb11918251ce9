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
All solvers are exact (no entropic regularisation, no Sinkhorn iterations).

``assignment``
    Equal sizes only: :func:`scipy.optimize.linear_sum_assignment`.
``linprog``
    Any sizes: the transportation linear program with all ``N_x · N_y`` variables and
    ``N_x + N_y - 1`` equality constraints (one marginal constraint is implied by the others
    and left out; marginals scaled to the integers ``N_y`` and ``N_x``), solved by the HiGHS
    dual simplex (:func:`scipy.optimize.linprog`).
``column-generation``
    The same linear program restricted to candidate pairs (each unit's cheapest cells and each
    cell's cheapest units), solved by HiGHS; pairs with a negative reduced cost
    ``C_ij - u_i - v_j`` under the restricted problem's duals are added and the problem is
    solved again, until no pair of the full cost matrix has a reduced cost below ``-1e-9``.
    That certificate makes the plan optimal for the full problem (to within ``1e-9`` in the
    transport cost). The restricted problems are much smaller than the full one (for 4096
    units and 100 cells, about 22 000 of 409 600 pairs, and two rounds).
``auto``
    ``assignment`` for equal sizes; otherwise ``linprog`` up to 50 000 pairs and
    ``column-generation`` above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError

from ._data import paired_bins, zscore_columns

__all__ = ["SOLVERS", "SoftMatchingResult", "SoftMatching", "soft_matching",
           "transport_plan"]

SOLVERS = ("auto", "assignment", "linprog", "column-generation")

#: Largest number of (unit, cell) pairs ``auto`` solves as one full linear program.
FULL_LP_PAIRS = 50_000

_REDUCED_COST_TOL = 1e-9


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
        ``"assignment"``, ``"linprog"`` or ``"column-generation"``.
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
    solver : {"auto", "assignment", "linprog", "column-generation"}
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
        solver = "assignment" if p == q else "linprog" if p * q <= FULL_LP_PAIRS \
            else "column-generation"
    if solver == "assignment":
        if p != q:
            raise ConfigError(f"solver='assignment' needs as many units as cells; got {p} and "
                              f"{q} (use 'linprog' or 'column-generation')")
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(C)
        plan = np.zeros((p, q))
        plan[rows, cols] = 1.0 / p
        return plan, "assignment"
    if solver == "linprog":
        x, _ = _solve_restricted(C, np.arange(p * q))
        return _plan(x, np.arange(p * q), p, q), "linprog"
    plan, _ = _column_generation(C)
    return plan, "column-generation"


def _solve_restricted(C: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Transport LP on the flat ``pairs`` (``i * q + j``) of ``C``: the flow on each pair
    (marginals ``q`` per unit, ``p`` per cell) and the duals ``(u, v)`` concatenated (the
    last cell's constraint is implied and left out, so its dual is 0). None if infeasible."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    p, q = C.shape
    m = pairs.size
    var = np.arange(m)
    ones = np.ones(m)
    A = sp.vstack([sp.csr_matrix((ones, (pairs // q, var)), shape=(p, m)),
                   sp.csr_matrix((ones, (pairs % q, var)), shape=(q, m))], format="csc")[:-1]
    b = np.concatenate([np.full(p, float(q)), np.full(q - 1, float(p))])
    # the dual simplex without presolve is several times faster on these degenerate problems
    res = linprog(C.ravel()[pairs], A_eq=A, b_eq=b, bounds=(0, None), method="highs-ds",
                  options={"presolve": False})
    if res.status == 2:
        return None
    if res.status != 0 or res.x is None:
        raise DataError(f"the soft-matching transport problem ({p} x {q}) was not solved: "
                        f"{res.message}")
    return res.x, np.concatenate([res.eqlin.marginals, [0.0]])


def _plan(x: np.ndarray, pairs: np.ndarray, p: int, q: int) -> np.ndarray:
    plan = np.zeros(p * q)
    plan[pairs] = np.maximum(x, 0.0) / (p * q)
    return plan.reshape(p, q)


def _cheapest(C: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mask of the ``k`` smallest entries of each row (axis 1) or column (axis 0)."""
    k = min(k, C.shape[axis])
    idx = np.argpartition(C, k - 1, axis=axis) if k < C.shape[axis] else \
        np.indices(C.shape)[axis]
    idx = idx[:, :k] if axis == 1 else idx[:k]
    mask = np.zeros(C.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=axis)
    return mask


def _column_generation(C: np.ndarray, k_init: int = 5, max_rounds: int = 100
                       ) -> tuple[np.ndarray, int]:
    """Exact transport plan by column generation (module docstring); returns the plan and
    the number of restricted problems solved."""
    p, q = C.shape
    k_unit = max(k_init, -(-3 * q // p))
    k_cell = max(k_init, -(-3 * p // q))
    mask = _cheapest(C, k_unit, axis=1) | _cheapest(C, k_cell, axis=0)
    rounds = 0
    while True:
        pairs = np.flatnonzero(mask.ravel())
        solved = _solve_restricted(C, pairs)
        rounds += 1
        if solved is None:  # too few candidate pairs to meet the marginals: widen them
            k_unit, k_cell = 2 * k_unit, 2 * k_cell
            mask |= _cheapest(C, k_unit, axis=1) | _cheapest(C, k_cell, axis=0)
            continue
        x, y = solved
        reduced = C - y[:p, None]
        reduced -= y[None, p:]
        violated = reduced < -_REDUCED_COST_TOL
        if not violated.any():
            return _plan(x, pairs, p, q), rounds
        if rounds >= max_rounds:
            x, _ = _solve_restricted(C, np.arange(p * q))
            return _plan(x, np.arange(p * q), p, q), rounds + 1
        # per unit, its k_init most violated pairs
        mask |= _cheapest(np.where(violated, reduced, np.inf), k_init, axis=1) & violated


def _correlations(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pearson r (n_units, n_cells) of every unit with every cell (0 for constant ones)."""
    return zscore_columns(X).T @ zscore_columns(Y)


class SoftMatching:
    """Soft matching fitted on some bins and evaluated on others.

    Parameters
    ----------
    solver : {"auto", "assignment", "linprog", "column-generation"}

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
    solver : {"auto", "assignment", "linprog", "column-generation"}
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
