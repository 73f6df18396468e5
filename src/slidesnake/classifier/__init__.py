"""A supervised tile classifier (tissue types, Kather-style) fine-tuned from an encoder backbone, and its
predictions over whole slides."""
