"""Names of the artefact QC (tissue/artefacts.py): its measures, artefact kinds and the slide summary's keys (the
tiles file's attributes and the QC table's columns). Light: imported while Snakemake builds the DAG."""

MEASURES = ("focus", "pen", "fold", "white")  # the per-tile measures, in this order everywhere
ARTEFACTS = ("blur", "pen", "fold", "white")  # the artefact kinds, one per measure (bit k of the flags: kind k)
ARTEFACT_SHARE, MEDIAN_FOCUS, DROPPED_TILES = "artefact_share", "median_focus", "dropped_tiles"
KIND_SHARES = tuple(f"{kind}_share" for kind in ARTEFACTS)
SUMMARY_KEYS = (ARTEFACT_SHARE, *KIND_SHARES, MEDIAN_FOCUS, DROPPED_TILES)
