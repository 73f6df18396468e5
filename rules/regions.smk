# HIPT's hierarchy: regions of 16 x 16 patches of 256 px, ViT-256 on the patches and ViT-4K on each region's
# patch tokens (targets `regions` and `region_features`); the MIL model hipt trains on the region features.
from slidesnake.features.params import RegionFeatureParams
from slidesnake.tissue.params import RegionParams


rule tile_regions:
    input:
        mask=paths.MASK,
        info=paths.MASK_INFO,
    output:
        paths.REGIONS,
    log:
        paths.log("tile_regions", "{slide}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        regions=section_params(RegionParams, config["regions"]),
        tiling_mpp=config["tiling"]["mpp"],
    script:
        "../scripts/tile_regions.py"


rule extract_region_features:
    input:
        IN.shard_inputs("regions"),
    output:
        paths.fill_some(paths.REGION_FEATURE_SHARD, encoder=paths.REGION_ENCODER),
    log:
        paths.log("extract_region_features", "{shard}"),
    benchmark:
        paths.benchmark("extract_region_features", "{shard}")
    conda:
        "../envs/torch.yaml"
    threads: config["region_features"]["num_workers"] + 1
    resources:
        gpu=1,
        mem_mb=12000,
        runtime=IN.feature_minutes,
    params:
        slides=IN.shard_files("regions", "features", paths.REGION_FEATURE_SHARD_FILE, encoder=paths.REGION_ENCODER),
        region_features=section_params(RegionFeatureParams, config["region_features"]),
    script:
        "../scripts/extract_region_features.py"


rule collect_region_features:
    input:
        IN.shard_of_slide(paths.REGION_FEATURE_SHARD, encoder=paths.REGION_ENCODER),
    output:
        paths.fill_some(paths.REGION_FEATURES, encoder=paths.REGION_ENCODER),
    log:
        paths.log("collect_region_features", "{slide}"),
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
        "../scripts/collect_region_features.py"
