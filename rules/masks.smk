# Otsu tissue masks from a low-resolution pyramid level, with GeoJSON outlines and QC pictures.


rule tissue_mask:
    input:
        slide=slide_input,
    output:
        mask="results/masks/{slide}.png",
        info="results/masks/{slide}.json",
        geojson="results/masks/{slide}.geojson",
        thumbnail="results/masks/{slide}_thumbnail.jpg",
        qc="results/masks/{slide}_qc.jpg",
    params:
        mask=config["mask"],
        sheet_mpp=sheet_mpp,
        default_mpp=config["default_mpp"],
    threads: 1
    resources:
        mem_mb=lambda wc, input: mask_memory_mb(input.size_mb),
        runtime=10,
    log:
        f"{LOGS}/tissue_mask/{{slide}}.log",
    benchmark:
        f"{BENCHMARKS}/tissue_mask/{{slide}}.tsv"
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/tissue_mask.py"
