"""Reading and writing: slides, the tile / feature / tile-score / manifest file contracts, label masks,
GeoJSON, pyramidal TIFF and raw JPEG tiles, the fast tile reader (tile_reader: every stage that sees pixels),
downloads."""
