"""Names of the MIL models, light enough for the DAG (the registry itself, mil.models, needs torch)."""

REGION_MODELS = ("hipt",)  # trained on region features (rule extract_region_features); the others on tile features
