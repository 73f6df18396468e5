"""Job entry points: one module per Snakemake rule, each with one `run()` that takes explicit paths and
parameter objects and writes exactly the outputs it is given. `scripts/<rule>.py` adapts `snakemake.*` to it."""
