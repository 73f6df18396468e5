# Tiles and features of every slide in the exact layouts CLAM and TRIDENT read (target rule `export`).


rule export_clam:
    input:
        IN.flat_files(IN.export_files),
    output:
        directory(paths.fill(paths.EXPORT_DIR, tool="clam")),
    log:
        paths.log("export_clam"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        tiles=IN.export_tiles,
        features=IN.export_features,
    script:
        "../scripts/export_clam.py"


rule export_trident:
    input:
        IN.flat_files(IN.export_files),
    output:
        directory(paths.fill(paths.EXPORT_DIR, tool="trident")),
    log:
        paths.log("export_trident"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        tiles=IN.export_tiles,
        features=IN.export_features,
    script:
        "../scripts/export_trident.py"
