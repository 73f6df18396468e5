"""Names of the MIL models, light enough for the DAG (the registry itself, mil.models, needs torch)."""

REGION_MODELS = ("hipt",)  # trained on region features (rule extract_region_features); the others on tile features

# training.batch_correction, the remedies of mil.correction (the schema's enum)
NO_CORRECTION, SITE_CORRECTION, SLIDE_CORRECTION, SLIDE_MEAN_CORRECTION = "none", "site", "slide", "slide_mean"
BATCH_CORRECTIONS = (NO_CORRECTION, SITE_CORRECTION, SLIDE_CORRECTION, SLIDE_MEAN_CORRECTION)
