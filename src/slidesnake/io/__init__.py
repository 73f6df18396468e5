"""Reading and writing: slides, the tile / feature / tile-score / manifest file contracts, label masks,
GeoJSON, pyramidal TIFF and raw JPEG tiles, downloads."""
