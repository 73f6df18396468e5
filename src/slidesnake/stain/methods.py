"""Names of the stain normalisation methods (no torch: the DAG imports them)."""

MACENKO, REINHARD, NONE = "macenko", "reinhard", "none"
METHODS = (MACENKO, REINHARD)
