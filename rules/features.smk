# Tile features per slide and encoder (GPU when there is one; raw JPEG tiles decoded by nvJPEG).


rule extract_features:
    input:
        slide=slide_input,
        tiles=paths.TILES,
    output:
        paths.FEATURES,
    log:
        paths.log("extract_features", "{encoder}/{slide}"),
    benchmark:
        paths.benchmark("extract_features", "{encoder}/{slide}")
    conda:
        "../envs/torch.yaml"
    threads: config["features"]["num_workers"] + 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=feature_minutes,
    params:
        features=feature_params,
    script:
        "../scripts/extract_features.py"
