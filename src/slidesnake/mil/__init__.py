"""Multiple-instance learning models over bags of tile features, by name."""

from .models import MIL_MODELS, build_mil_model

__all__ = ["MIL_MODELS", "build_mil_model"]
