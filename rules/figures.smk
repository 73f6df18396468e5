# Heatmaps, galleries and QuPath regions per slide; cohort figures per task; UMAP of tile features.


rule heatmaps:
    input:
        scores=heatmap_score_files,
        manifest=slide_manifest(paths.TRAIN_COHORT),
        splits=paths.SPLITS,
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
        source=alternatives(MODELS + [paths.PU_SOURCE]),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10 + len(TRAIN_SLIDES) // 10,
    params:
        source="{source}",
        heatmap=section_params(HeatmapParams, config["figures"]),
    script:
        "../scripts/heatmaps.py"


rule deploy_heatmaps:
    input:
        scores=[paths.NEW_TILE_SCORES],
        manifest=slide_manifest(paths.NEW_COHORT),
    output:
        report(
            directory(paths.NEW_HEATMAP_DIR),
            patterns=["{name}.jpg"],
            caption="../report/heatmap.rst",
            category="Heatmaps {task}",
            subcategory="new slides, {model}",
        ),
    log:
        paths.log("deploy_heatmaps", "{task}/{model}"),
    benchmark:
        paths.benchmark("deploy_heatmaps", "{task}/{model}")
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10 + len(NEW_SLIDES) // 10,
    params:
        source="new_{model}",
        heatmap=section_params(HeatmapParams, config["figures"]),
    script:
        "../scripts/heatmaps.py"


rule cohort_figures:
    input:
        flat_files(cohort_figure_files),
        manifest=slide_manifest(paths.TRAIN_COHORT),
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
        files=cohort_figure_files,
        classes=task_classes,
        labels=labels_param,
    script:
        "../scripts/cohort_figures.py"


rule umap:
    input:
        features=feature_manifest(paths.TRAIN_COHORT, "{encoder}"),
        manifest=slide_manifest(paths.TRAIN_COHORT),
        pu_scores=umap_pu_scores,
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
        labels=first_task_labels,
        max_tiles=config["figures"]["umap_max_tiles"],
        seed=config["figures"]["seed"],
    script:
        "../scripts/umap.py"
