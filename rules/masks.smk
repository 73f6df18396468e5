# Otsu tissue masks from a low-resolution pyramid level, with GeoJSON outlines and QC pictures.
from slidesnake.tissue.params import MaskParams, QcParams


rule tissue_mask:
    input:
        slide=IN.slide_input,
    output:
        mask=paths.MASK,
        info=paths.MASK_INFO,
        geojson=paths.MASK_GEOJSON,
        thumbnail=paths.THUMBNAIL,
        qc=paths.MASK_QC,
    log:
        paths.log("tissue_mask", "{slide}"),
    benchmark:
        paths.benchmark("tissue_mask", "{slide}")
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=IN.mask_memory_mb,
        runtime=10,
    params:
        mask=section_params(MaskParams, config["mask"]),
        qc=section_params(QcParams, config["qc"]),
        sheet_mpp=IN.sheet_mpp,
        default_mpp=config["default_mpp"],
        source=IN.sheet_value("source"),
    script:
        "../scripts/tissue_mask.py"
