# Tile features per slide and encoder (or imported from CLAM / TRIDENT feature files). One GPU job encodes a shard of slides with the encoder loaded once
# (features.slides_per_job); a local job per slide then puts its file in place, or fails that slide alone.


rule extract_features:
    input:
        slides=IN.shard_inputs("tiles"),
        stain_reference=IN.encoder_stain_reference,
        imported=IN.imported_feature_inputs,
    output:
        paths.FEATURE_SHARD,
    log:
        paths.log("extract_features", "{encoder}/{shard}"),
    benchmark:
        paths.benchmark("extract_features", "{encoder}/{shard}")
    conda:
        "../envs/torch.yaml"
    threads: config["features"]["num_workers"] + 1
    resources:
        gpu=IN.feature_gpus,
        mem_mb=8000,
        runtime=IN.feature_minutes,
    params:
        slides=IN.shard_files("tiles", "features", paths.FEATURE_SHARD_FILE),
        features=IN.feature_params,
        imported=IN.imported_features,
    script:
        "../scripts/extract_features.py"


rule collect_features:
    input:
        IN.shard_of_slide(paths.FEATURE_SHARD),
    output:
        paths.FEATURES,
    log:
        paths.log("collect_features", "{encoder}/{slide}"),
    localrule: True
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=100,
        runtime=1,
    params:
        strict=config["qc"]["strict"],
    script:
        "../scripts/collect_features.py"
