"""Mapping engine: fast multi-target regressions from model features to neural responses."""

from .base import MappingBase, cross_predict
from .cache import FeatureCache
from .ridge import DEFAULT_RIDGE_ALPHAS, Ridge, RidgeCV

__all__ = ["FeatureCache", "cross_predict", "MappingBase", "Ridge", "RidgeCV",
           "DEFAULT_RIDGE_ALPHAS"]
