"""Names of the stain normalisation methods (no torch: the DAG imports them)."""

MACENKO, REINHARD, NONE = "macenko", "reinhard", "none"
METHODS = (MACENKO, REINHARD)
FIT_PER_TILE, FIT_PER_SLIDE = "tile", "slide"  # an encoder's stain_fit: each tile's own fit, or one per slide
