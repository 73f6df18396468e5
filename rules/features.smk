# Tile features per slide and encoder (GPU when there is one; raw JPEG tiles decoded by nvJPEG).


rule extract_features:
    input:
        slide=slide_input,
        tiles="results/tiles/{slide}.h5",
    output:
        "results/features/{encoder}/{slide}.h5",
    params:
        features=encoder_params,
        sheet_mpp=sheet_mpp,
        default_mpp=config["default_mpp"],
    threads: config["features"]["num_workers"] + 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=lambda wc, input: feature_minutes(input.size_mb),
    log:
        f"{LOGS}/extract_features/{{encoder}}/{{slide}}.log",
    benchmark:
        f"{BENCHMARKS}/extract_features/{{encoder}}/{{slide}}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/extract_features.py"
