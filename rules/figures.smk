# Heatmaps, galleries and QuPath regions per slide; cohort figures per task; UMAP of tile features.

FIGURE_KEYS = ["cmap", "alpha", "smooth_px", "region_threshold", "top_k"]
COHORT_CAPTIONS = {"roc": "roc", "confusion": "confusion", "training_curves": "training_curves",
                   "tiles_per_slide": "per_slide", "tissue_area": "per_slide"}


rule heatmaps:
    input:
        unpack(lambda wc: {"scores": heatmap_score_files(wc), **per_slide_inputs(wc)}),
    output:
        heatmaps=report(expand("results/figures/{{task}}/heatmaps/{{source}}/{slide}.jpg", slide=SLIDES),
                        caption="../report/heatmap.rst", category="Heatmaps {task}", subcategory="{source}"),
        regions=expand("results/figures/{{task}}/heatmaps/{{source}}/{slide}.geojson", slide=SLIDES),
        galleries=report(expand("results/figures/{{task}}/heatmaps/{{source}}/{slide}_top_tiles.jpg", slide=SLIDES),
                         caption="../report/gallery.rst", category="Top tiles {task}", subcategory="{source}"),
    params:
        figures={k: config["figures"][k] for k in FIGURE_KEYS},
        labels=lambda wc: task_labels(wc.task),
        mpp={s: sample(s)["mpp"] or config["default_mpp"] for s in SLIDES},
        source=lambda wc: wc.source,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wc, input: int(10 + input.size_mb / 200),
    log:
        f"{LOGS}/heatmaps/{{task}}/{{source}}.log",
    benchmark:
        f"{BENCHMARKS}/heatmaps/{{task}}/{{source}}.tsv"
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/heatmaps.py"


rule deploy_heatmaps:
    input:
        unpack(lambda wc: {"scores": [f"results/predictions/{wc.task}/{wc.model}_new_tile_scores.h5"],
                           **per_slide_inputs(wc, DEPLOY_SLIDES)}),
    output:
        heatmaps=report(expand("results/figures/{{task}}/heatmaps/new_{{model}}/{slide}.jpg", slide=DEPLOY_SLIDES),
                        caption="../report/heatmap.rst", category="Heatmaps {task}", subcategory="new slides, {model}"),
        regions=expand("results/figures/{{task}}/heatmaps/new_{{model}}/{slide}.geojson", slide=DEPLOY_SLIDES),
        galleries=expand("results/figures/{{task}}/heatmaps/new_{{model}}/{slide}_top_tiles.jpg", slide=DEPLOY_SLIDES),
    params:
        figures={k: config["figures"][k] for k in FIGURE_KEYS},
        labels={s: None for s in DEPLOY_SLIDES},
        mpp={s: sample(s)["mpp"] or config["default_mpp"] for s in DEPLOY_SLIDES},
        source=lambda wc: wc.model,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wc, input: int(10 + input.size_mb / 200),
    log:
        f"{LOGS}/deploy_heatmaps/{{task}}/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/deploy_heatmaps/{{task}}/{{model}}.tsv"
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/heatmaps.py"


rule cohort_figures:
    input:
        unpack(lambda wc: {
            **{f"predictions_{m}": [f"results/models/{wc.task}/{m}/fold{k}/predictions.csv"
                                    for k in range(config["training"]["folds"])] for m in config["training"]["models"]},
            **{f"metrics_{m}": [f"results/models/{wc.task}/{m}/fold{k}/metrics.json"
                                for k in range(config["training"]["folds"])] for m in config["training"]["models"]},
            **{f"tiles_{s}": f"results/tiles/{s}.h5" for s in SLIDES},
            **{f"maskinfo_{s}": f"results/masks/{s}.json" for s in SLIDES}}),
    output:
        **{name: report(f"results/figures/{{task}}/{name}.png", caption=f"../report/{COHORT_CAPTIONS[name]}.rst",
                        category="Cohort {task}") for name in COHORT_FIGURES},
    params:
        classes=lambda wc: TASKS[wc.task]["classes"],
        labels=lambda wc: task_labels(wc.task),
        models=config["training"]["models"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{LOGS}/cohort_figures/{{task}}.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/cohort_figures.py"


rule umap:
    input:
        unpack(lambda wc: {
            **{f"features_{s}": f"results/features/{wc.encoder}/{s}.h5" for s in SLIDES},
            **{f"tiles_{s}": f"results/tiles/{s}.h5" for s in SLIDES},
            **{f"thumbnail_{s}": f"results/masks/{s}_thumbnail.jpg" for s in SLIDES},
            **({"scores": f"results/pu/{config['pu']['task']}/tile_scores.h5"} if pu_enabled() else {})}),
    output:
        scatter=report("results/figures/umap/{encoder}/scatter.png", caption="../report/umap.rst",
                       category="UMAP {encoder}"),
        rgb=report(expand("results/figures/umap/{{encoder}}/{slide}_rgb.jpg", slide=SLIDES),
                   caption="../report/umap.rst", category="UMAP {encoder}", subcategory="RGB views"),
    params:
        labels=lambda wc: task_labels(list(TASKS)[0]) if TASKS else {},
        max_tiles=config["figures"]["umap_max_tiles"],
        seed=config["figures"]["seed"],
    threads: 2
    resources:
        mem_mb=lambda wc, input: int(2000 + 2 * input.size_mb),
        runtime=30,
    log:
        f"{LOGS}/umap/{{encoder}}.log",
    benchmark:
        f"{BENCHMARKS}/umap/{{encoder}}.tsv"
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/umap.py"
