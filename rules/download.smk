# Bring every slide (and annotation mask) into results/: download URLs, link local files.


rule fetch_slide:
    input:
        IN.local_source("source"),
    output:
        paths.SLIDE,
    log:
        paths.log("fetch_slide", "{slide}.{ext}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=IN.fetch_minutes("source", 120),
    params:
        source=IN.sheet_value("source"),
        kind=IN.sheet_value("source_kind"),
        md5=IN.sheet_value("md5"),
        download=section_params(DownloadParams, config["download"]),
        strict=config["qc"]["strict"],
    script:
        "../scripts/fetch_slide.py"


rule fetch_annotation:
    input:
        IN.local_source("annotation"),
    output:
        paths.ANNOTATION,
    log:
        paths.log("fetch_annotation", "{slide}.{aext}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=IN.fetch_minutes("annotation", 30),
    params:
        source=IN.sheet_value("annotation"),
        kind=IN.sheet_value("annotation_kind"),
        download=section_params(DownloadParams, config["download"]),
    script:
        "../scripts/fetch_annotation.py"
