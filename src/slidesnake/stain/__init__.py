"""Stain colour: H&E colour deconvolution, augmentation, and normalisation to a reference."""
