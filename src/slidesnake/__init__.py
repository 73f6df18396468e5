"""slidesnake: weakly supervised learning on whole-slide images, as a Snakemake workflow."""

__version__ = "0.1.0"
