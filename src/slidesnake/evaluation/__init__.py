"""Cross-validation splits, metrics, localisation against truth, and the evaluation report."""
