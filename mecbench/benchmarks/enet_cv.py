"""The per-split tuned elastic net of the ``enet`` benchmarks, importable from here.

The estimator is :class:`mecbench.mapping.enet_cv.ElasticNetCVMapping`, registered as the
``enet-cv`` mapping of :func:`mecbench.mapping.get_mapping`.
"""

from __future__ import annotations

from mecbench.mapping.enet_cv import ElasticNetCVMapping

__all__ = ["ElasticNetCVMapping"]
