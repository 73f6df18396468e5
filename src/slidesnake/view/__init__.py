"""A local zoomable viewer of a slide with its results: `python -m slidesnake.view results/`.

The slide as deep-zoom tiles read on demand from its pyramid, and overlays drawn per view tile from the files the
workflow writes (tissue mask, tile grid, annotation and truth masks, every MIL model's and PU's tile scores, tile
classes), with the cohort's labels, predictions and QC status; served on 127.0.0.1 to OpenSeadragon in the browser.
"""
