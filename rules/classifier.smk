# A supervised tile classifier (tissue types) trained on a labelled patch set, applied to every slide's tiles
# at the patch set's resolution: probabilities per tile, tissue composition, prediction maps (target `classify`).
from slidesnake.classifier.params import ClassifierParams


rule demo_patches:
    output:
        directory(paths.DEMO_PATCHES),
    log:
        paths.log("demo_patches"),
    benchmark:
        paths.benchmark("demo_patches")
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        per_class=config["classifier"]["demo_patches_per_class"],
        seed=config["demo"]["seed"],
    script:
        "../scripts/demo_patches.py"


rule fetch_patches:
    output:
        directory(paths.PATCH_SET),
    log:
        paths.log("fetch_patches", "{classifier}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
    params:
        source=config["classifier"]["patches"],
        kind=IN.patch_source_kind,
        md5=config["classifier"]["md5"],
        download=section_params(DownloadParams, config["download"]),
    script:
        "../scripts/fetch_patches.py"


rule train_classifier:
    input:
        patches=IN.patch_set_folder,
    output:
        model=paths.CLASSIFIER_MODEL,
        metrics=paths.CLASSIFIER_METRICS,
    log:
        paths.log("train_classifier", "{classifier}"),
    benchmark:
        paths.benchmark("train_classifier", "{classifier}")
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        classifier=section_params(ClassifierParams, config["classifier"]),
    script:
        "../scripts/train_classifier.py"


rule classify_tiles:
    input:
        IN.shard_inputs("tiles"),
        model=paths.CLASSIFIER_MODEL,
    output:
        paths.TILE_CLASS_SHARD,
    log:
        paths.log("classify_tiles", "{classifier}/{shard}"),
    benchmark:
        paths.benchmark("classify_tiles", "{classifier}/{shard}")
    conda:
        "../envs/torch.yaml"
    threads: config["features"]["num_workers"] + 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=IN.feature_minutes,
    params:
        slides=IN.shard_files("tiles", "classes", paths.TILE_CLASS_SHARD_FILE),
        batch_size=config["features"]["batch_size"],
        num_workers=config["features"]["num_workers"],
    script:
        "../scripts/classify_tiles.py"


rule collect_tile_classes:
    input:
        IN.shard_of_slide(paths.TILE_CLASS_SHARD),
    output:
        paths.TILE_CLASSES,
    log:
        paths.log("collect_tile_classes", "{classifier}/{slide}"),
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
        "../scripts/collect_tile_classes.py"


rule tissue_composition:
    input:
        IN.flat_files(IN.tile_class_files),
        manifests=expand(paths.SLIDE_MANIFEST, cohort=COHORTS),
    output:
        composition=paths.COMPOSITION,
        localisation=paths.CLASSIFIER_LOCALISATION,
    log:
        paths.log("tissue_composition", "{classifier}"),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tile_classes=IN.tile_class_files,
        tumor_class=config["classifier"]["tumor_class"],
    script:
        "../scripts/tissue_composition.py"


rule tile_class_figures:
    input:
        IN.flat_files(IN.tile_class_files),
        manifests=expand(paths.SLIDE_MANIFEST, cohort=COHORTS),
        metrics=paths.CLASSIFIER_METRICS,
    output:
        report(
            directory(paths.TILE_CLASS_FIGURES),
            patterns=["{name}.jpg", "{name}.png"],
            caption="../report/tile_classes.rst",
            category="Tile classes {classifier}",
        ),
    log:
        paths.log("tile_class_figures", "{classifier}"),
    benchmark:
        paths.benchmark("tile_class_figures", "{classifier}")
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10 + len(COHORT.slides()) // 10,
    params:
        tile_classes=IN.tile_class_files,
    script:
        "../scripts/tile_class_figures.py"
