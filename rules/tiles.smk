# Mask-aware tile grids at the target mpp, written to HDF5 (no slide reads).
from slidesnake.tissue.params import ArtefactParams, TilingParams


rule tile_slide:
    input:
        slide=IN.slide_input,
        mask=paths.MASK,
        info=paths.MASK_INFO,
        thumbnail=paths.THUMBNAIL,
        annotation=IN.annotation_input,
        imported=IN.imported_tiles,
    output:
        tiles=paths.TILES,
        qc=paths.TILES_QC,
        artefacts=report(
            paths.ARTEFACT_QC,
            caption="../report/artefacts.rst",
            category="Quality control",
            subcategory="artefacts",
        ),
        artefact_geojson=paths.ARTEFACT_GEOJSON,
    log:
        paths.log("tile_slide", "{slide}"),
    benchmark:
        paths.benchmark("tile_slide", "{slide}")
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tiling=section_params(TilingParams, config["tiling"]),
        artefacts=section_params(ArtefactParams, config["qc"]),
        min_tiles=config["qc"]["min_tiles"],
        strict=config["qc"]["strict"],
        source=IN.sheet_value("source"),
        import_format=IN.import_format,
    script:
        "../scripts/tile_slide.py"
