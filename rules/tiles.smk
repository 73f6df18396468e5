# Mask-aware tile grids at the target mpp, written to HDF5 (no slide reads).


rule tile_slide:
    input:
        mask="results/masks/{slide}.png",
        info="results/masks/{slide}.json",
        thumbnail="results/masks/{slide}_thumbnail.jpg",
        annotation=annotation_input,
    output:
        tiles="results/tiles/{slide}.h5",
        qc="results/tiles/{slide}_qc.jpg",
    params:
        tiling=config["tiling"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{LOGS}/tile_slide/{{slide}}.log",
    benchmark:
        f"{BENCHMARKS}/tile_slide/{{slide}}.tsv"
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/tile_slide.py"
