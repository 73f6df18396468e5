"""Figures: heatmaps over thumbnails, UMAP views of tile features, cohort-level plots."""
