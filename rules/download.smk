# Bring every slide (and annotation mask) into results/: download URLs, link local files.


rule fetch_slide:
    input:
        local_source("source"),
    output:
        paths.SLIDE,
    log:
        paths.log("fetch_slide", "{slide}.{ext}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=fetch_minutes("source", 120),
    params:
        source=sheet_value("source"),
        kind=sheet_value("source_kind"),
        md5=sheet_value("md5"),
        download=section_params(DownloadParams, config["download"]),
    script:
        "../scripts/fetch_slide.py"


rule fetch_annotation:
    input:
        local_source("annotation"),
    output:
        paths.ANNOTATION,
    log:
        paths.log("fetch_annotation", "{slide}.{aext}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=fetch_minutes("annotation", 30),
    params:
        source=sheet_value("annotation"),
        kind=sheet_value("annotation_kind"),
        download=section_params(DownloadParams, config["download"]),
    script:
        "../scripts/fetch_annotation.py"
