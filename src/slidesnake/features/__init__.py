"""Tile features: the encoder registry, the fast tile reader (raw JPEG tiles, nvJPEG on CUDA) and extraction."""
