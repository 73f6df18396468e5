# Stain normalisation: one reference per method that some encoder uses (fitted once, so changing it reruns
# exactly the features that normalise to it), and a before / after QC grid for the report.
from slidesnake.stain.params import StainParams


rule stain_reference:
    input:
        slides=IN.flat_files(IN.stain_reference_slides),
        image=IN.stain_reference_image,
    output:
        paths.STAIN_REFERENCE,
    log:
        paths.log("stain_reference", "{method}"),
    benchmark:
        paths.benchmark("stain_reference", "{method}")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        stain=section_params(StainParams, config["stain"]),
        slides=IN.stain_reference_slides,
    script:
        "../scripts/stain_reference.py"


rule stain_qc:
    input:
        IN.flat_files(IN.stain_qc_slides),
        reference=paths.STAIN_REFERENCE,
    output:
        report(paths.STAIN_QC, caption="../report/stain_qc.rst", category="Stain normalisation"),
    log:
        paths.log("stain_qc", "{method}"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        stain=section_params(StainParams, config["stain"]),
        slides=IN.stain_qc_slides,
    script:
        "../scripts/stain_qc.py"
