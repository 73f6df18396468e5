# The software stack of the run, next to its results.


rule versions:
    output:
        "results/versions.tsv",
    log:
        f"{LOGS}/versions.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/versions.py"
