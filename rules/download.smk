# Bring every slide (and annotation mask) into results/: download URLs, link local files.


rule fetch_slide:
    input:
        local_source("source"),
    output:
        "results/slides/{slide}.{ext}",
    params:
        source=lambda wc: sample(wc.slide)["source"],
        kind=lambda wc: sample(wc.slide)["source_kind"],
        md5=lambda wc: sample(wc.slide)["md5"],
        retries=config["download"]["retries"],
        backoff_s=config["download"]["backoff_s"],
        timeout_s=config["download"]["timeout_s"],
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,
    log:
        f"{LOGS}/fetch_slide/{{slide}}.{{ext}}.log",
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/fetch_slide.py"


rule fetch_annotation:
    input:
        local_source("annotation"),
    output:
        "results/annotations/{slide}.{aext}",
    params:
        source=lambda wc: sample(wc.slide)["annotation"],
        kind=lambda wc: sample(wc.slide)["annotation_kind"],
        retries=config["download"]["retries"],
        backoff_s=config["download"]["backoff_s"],
        timeout_s=config["download"]["timeout_s"],
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    log:
        f"{LOGS}/fetch_annotation/{{slide}}.{{aext}}.log",
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/fetch_annotation.py"
