"""Positive-unlabeled learning on tiles from partial tumor annotations (nnPU / PNU, Elkan-Noto prior)."""
