"""Per-cell elastic net with hyper-parameters chosen on each split's training bins.

The ``enet-cv`` mapping (used by the ``enet`` benchmarks) follows the protocol Nayebi et al.
(2021) suggest for per-cell elastic nets: for every split, ``alpha`` and ``l1_ratio`` are
chosen **per cell** by 2-fold cross-validation on that split's training bins only (the test
bins never influence the choice), over the reference's short grids (9 alphas geometrically
spaced over [1e-9, 1e9]; ``l1_ratio`` in [1e-16] + 9 values over [0.01, 1]); then the elastic
net is refitted on all training bins with the chosen values.

Choice per cell: the smallest CV error is not a well-posed criterion, because candidates whose
validation errors differ by less than the solver's tolerance are ordered by rounding (a
different CPU, BLAS or tolerance flips them). The mapping therefore takes, among the
candidates whose CV error the solver's certified tolerance (``select_tol``, a relative duality
gap of 1e-4) cannot tell apart from the smallest, the most regularised one: the largest
``alpha``, then the smallest ``l1_ratio`` (:func:`mecbench.mapping.enet.select_stable`,
bands from :func:`mecbench.mapping.enet.cv_error_band`). The search's own errors are known
only to within its solves' certified accuracy, so a candidate close to the tie boundary could
land on either side depending on rounding (another CPU's BLAS kernels); every candidate whose
side is left open, and that could change the pick, is re-solved to a relative gap of 1e-10
(then 1e-12) until its side is certain, so the pick is the one the exact errors give.
A pure lasso (``l1_ratio = 1``) fitted on fewer rows than features has no bound on its
validation error from its duality gap, so it is never tied and never the best; those
candidates are not solved at all (about half of the search's time on wide layers), which
changes no pick.
The final fit on all training bins is solved to a relative duality gap of 1e-12
(``refit_tol``), not the search's 1e-4: a solution certified only to 1e-4 is one of many that
different BLAS kernels reach (predictions differing by up to 1e-2 for the same picks), while at
1e-12 they agree to about 1e-6, so a score reproduces on another CPU; the tight refit costs
about as much as a loose one (one solve per split against the search's hundreds).
The search and the fits are :func:`~mecbench.mapping.enet.elastic_net_cv` and
:class:`~mecbench.mapping.enet.ElasticNet` (vectorised across cells); this class only chains
them as one scikit-learn estimator, so the scoring path treats it like any other mapping
(fitted per split, built by name with :func:`mecbench.mapping.get_mapping`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from .enet import REFERENCE_ALPHAS_SHORT, REFERENCE_L1_RATIOS_SHORT, ElasticNet, elastic_net_cv

__all__ = ["ElasticNetCVMapping"]


class ElasticNetCVMapping(RegressorMixin, BaseEstimator):
    """Elastic net whose per-target ``alpha`` and ``l1_ratio`` are chosen by CV in ``fit``.

    Parameters
    ----------
    alphas, l1_ratios : sequence of float, optional
        Grids (default: the reference's short grids).
    cv : int
        Folds of the inner cross-validation on the rows given to ``fit``.
    seed : int
        Seed of the fold assignment.
    tol, max_iter
        Solver settings of the search (and ``max_iter`` of the final fit).
    select : {"stable", "min"}
        Rule of the per-target choice (:func:`mecbench.mapping.elastic_net_cv`): the most
        regularised candidate within the certified tolerance of the best (default), or the
        smallest CV error.
    select_tol : float
        Relative duality gap the ``"stable"`` rule's error bands are computed for; >= ``tol``.
        Fixed apart from ``tol`` so that a more accurate solve makes the same choice.
    refit_tol : float
        Relative duality gap of the final fit on all rows (default 1e-12: its predictions
        then agree across CPUs and BLAS kernels to about 1e-6).

    Attributes
    ----------
    alpha_, l1_ratio_ : arrays (n_targets,)
        The chosen hyper-parameters.
    cv_ : dict
        What :func:`mecbench.mapping.elastic_net_cv` returned (errors and their bands).
    estimator_ : mecbench.mapping.ElasticNet
        The elastic net refitted on all rows.
    """

    def __init__(self, alphas=None, l1_ratios=None, cv: int = 2, seed: int = 0,
                 tol: float = 1e-4, max_iter: int = 5000, select: str = "stable",
                 select_tol: float = 1e-4, refit_tol: float = 1e-12):
        self.alphas = alphas
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.seed = seed
        self.tol = tol
        self.max_iter = max_iter
        self.select = select
        self.select_tol = select_tol
        self.refit_tol = refit_tol

    def fit(self, X, Y):
        """Choose per-target hyper-parameters on ``(X, Y)`` by CV, then fit on all rows."""
        alphas = REFERENCE_ALPHAS_SHORT if self.alphas is None else self.alphas
        l1s = REFERENCE_L1_RATIOS_SHORT if self.l1_ratios is None else self.l1_ratios
        Y = np.asarray(Y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y2 = Y[:, None] if self._y_1d else Y
        chosen = elastic_net_cv(X, Y2, alphas=alphas, l1_ratios=l1s, cv=self.cv,
                                seed=self.seed, tol=self.tol, max_iter=self.max_iter,
                                select=self.select, select_tol=self.select_tol)
        self.cv_ = chosen
        return self.refit(X, Y2, chosen["alpha"], chosen["l1_ratio"])

    def refit(self, X, Y, alpha, l1_ratio) -> ElasticNetCVMapping:
        """Fit the final elastic net on ``(X, Y)`` with the given per-target ``alpha`` and
        ``l1_ratio`` (what :meth:`fit` does after its search)."""
        Y = np.asarray(Y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y2 = Y[:, None] if self._y_1d else Y
        self.alpha_ = np.asarray(alpha, dtype=np.float64)
        self.l1_ratio_ = np.asarray(l1_ratio, dtype=np.float64)
        self.estimator_ = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_,
                                     tol=self.refit_tol, max_iter=self.max_iter).fit(X, Y2)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions of the refitted elastic net."""
        P = np.asarray(self.estimator_.predict(X), dtype=np.float64)
        P = P.reshape(len(P), -1)
        return P[:, 0] if self._y_1d else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

