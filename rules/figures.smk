# Heatmaps, galleries and QuPath regions per slide (training slides: each score source; new slides: each model's
# fold ensemble); cohort figures per task; UMAP of tile features.
from slidesnake.figures.params import HeatmapParams


rule heatmaps:
    input:
        scores=IN.heatmap_score_files,
        manifest=IN.heatmap_manifest,
        qc=IN.heatmap_qc_table,
        splits=IN.heatmap_splits,
    output:
        report(
            directory(paths.HEATMAP_DIR),
            patterns=["{name}.jpg"],
            caption="../report/heatmap.rst",
            category="Heatmaps {task}",
            subcategory="{source}",
        ),
    log:
        paths.log("heatmaps", "{task}/{source}"),
    benchmark:
        paths.benchmark("heatmaps", "{task}/{source}")
    wildcard_constraints:
        source=alternatives(MODELS + [paths.PU_SOURCE] + IN.new_sources),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=IN.heatmap_minutes,
    params:
        source="{source}",
        heatmap=section_params(HeatmapParams, config["figures"]),
    script:
        "../scripts/heatmaps.py"


rule cohort_figures:
    input:
        IN.flat_files(IN.cohort_figure_files),
        manifest=IN.slide_manifest(paths.TRAIN_COHORT),
    output:
        **{
            name: report(
                paths.fill_some(paths.COHORT_FIGURE, name=name),
                caption=f"../report/{name}.rst",
                category="Cohort {task}",
            )
            for name in paths.COHORT_FIGURES
        },
    log:
        paths.log("cohort_figures", "{task}"),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        files=IN.cohort_figure_files,
        classes=IN.task_classes,
        labels=labels_param,
    script:
        "../scripts/cohort_figures.py"


rule endpoint_figures:
    input:
        IN.flat_files(IN.cohort_figure_files),
        evaluation=paths.EVALUATION_JSON,
    output:
        report(paths.COHORT_FIGURE, caption="../report/endpoint_figures.rst", category="Cohort {task}"),
    log:
        paths.log("endpoint_figures", "{task}/{name}"),
    wildcard_constraints:
        name=alternatives([n for names in paths.ENDPOINT_FIGURES.values() for n in names]),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        files=IN.cohort_figure_files,
        kind=IN.task_type,
    script:
        "../scripts/endpoint_figures.py"


rule umap:
    input:
        features=IN.feature_manifest(paths.TRAIN_COHORT, "{encoder}"),
        manifest=IN.slide_manifest(paths.TRAIN_COHORT),
        pu_scores=IN.umap_pu_scores,
    output:
        scatter=report(paths.UMAP_SCATTER, caption="../report/umap.rst", category="UMAP {encoder}"),
        rgb=report(
            directory(paths.UMAP_RGB_DIR),
            patterns=["{slide}.jpg"],
            caption="../report/umap.rst",
            category="UMAP {encoder}",
            subcategory="RGB views",
        ),
    log:
        paths.log("umap", "{encoder}"),
    benchmark:
        paths.benchmark("umap", "{encoder}")
    conda:
        "../envs/figures.yaml"
    threads: 2
    resources:
        mem_mb=2000 + config["figures"]["umap_max_tiles"] // 10,
        runtime=30,
    params:
        labels=lambda wildcards: first_classification_labels(),
        max_tiles=config["figures"]["umap_max_tiles"],
        seed=config["figures"]["seed"],
    script:
        "../scripts/umap.py"
