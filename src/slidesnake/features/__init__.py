"""Tile features: the encoder registry and extraction (tiles come from io.tile_reader), HIPT's region features."""
