# The software stack of the run, next to its results.


rule versions:
    output:
        paths.VERSIONS,
    log:
        paths.log("versions"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/versions.py"
