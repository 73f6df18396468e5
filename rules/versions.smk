# The software stack of the run, next to its results.


rule versions:
    output:
        "results/versions.tsv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{LOGS}/versions.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/versions.py"
