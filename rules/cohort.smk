# Cohort manifests: one table per cohort ("train": the sample sheet, "new": the deploy sheet) listing every
# slide's files and status, so that cohort-level jobs depend on one file instead of thousands; the QC table.


rule slide_manifest:
    input:
        IN.slide_manifest_files,
    output:
        paths.SLIDE_MANIFEST,
    log:
        paths.log("slide_manifest", "{cohort}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        rows=IN.slide_manifest_rows,
    script:
        "../scripts/slide_manifest.py"


rule feature_manifest:
    input:
        features=IN.flat_files(IN.cohort_features),
        tiles=IN.flat_files(IN.cohort_tiles),
    output:
        paths.FEATURE_MANIFEST,
    log:
        paths.log("feature_manifest", "{cohort}_{encoder}"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        features=IN.cohort_features,
        tiles=IN.cohort_tiles,
    script:
        "../scripts/feature_manifest.py"


rule qc_table:
    input:
        slides=paths.SLIDE_MANIFEST,
        features=IN.qc_feature_manifest,
    output:
        report(paths.QC_TABLE, caption="../report/qc.rst", category="Quality control"),
    log:
        paths.log("qc_table", "{cohort}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        sources=IN.cohort_sources,
    script:
        "../scripts/qc_table.py"
