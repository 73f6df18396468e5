"""Tissue detection and tile grids: Otsu masks at low resolution, mask-aware grids without slide reads."""
