# Patient-level splits, MIL training per task / model / fold, PU tile learning, out-of-fold evaluation.

TRAINING_KEYS = ["epochs", "patience", "lr", "weight_decay", "max_tiles", "class_weighting", "seed", "device"]


rule splits:
    output:
        "results/splits/{task}.csv",
    params:
        labels=lambda wc: task_labels(wc.task),
        patients=lambda wc: {s: SAMPLES.loc[s, "patient_id"] for s in SLIDES},
        folds=config["training"]["folds"],
        seed=config["training"]["seed"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{LOGS}/splits/{{task}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/splits.py"


rule train_mil:
    input:
        unpack(lambda wc: {"splits": f"results/splits/{wc.task}.csv", **training_features(wc)}),
    output:
        model="results/models/{task}/{model}/fold{fold}/model.pt",
        metrics="results/models/{task}/{model}/fold{fold}/metrics.json",
        predictions="results/models/{task}/{model}/fold{fold}/predictions.csv",
        tile_scores="results/models/{task}/{model}/fold{fold}/tile_scores.h5",
    params:
        classes=lambda wc: TASKS[wc.task]["classes"],
        training={k: config["training"][k] for k in TRAINING_KEYS},
        encoder=TRAIN_ENCODER,
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wc, input: training_memory_mb(input.size_mb),
        runtime=lambda wc, input: training_minutes(input.size_mb),
    log:
        f"{LOGS}/train_mil/{{task}}/{{model}}/fold{{fold}}.log",
    benchmark:
        f"{BENCHMARKS}/train_mil/{{task}}/{{model}}/fold{{fold}}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_mil.py"


rule train_pu:
    input:
        unpack(lambda wc: {"splits": f"results/splits/{wc.task}.csv",
                           **{f"features_{s}": p for s, p in training_features(wc).items()},
                           **{f"tiles_{s}": p for s, p in training_tiles(wc).items()}}),
    output:
        tile_scores="results/pu/{task}/tile_scores.h5",
        slide_scores="results/pu/{task}/slide_scores.csv",
        prior="results/pu/{task}/prior.json",
    params:
        pu={k: v for k, v in config["pu"].items() if k not in ("enabled", "task", "positive_class")},
        positive_class=config["pu"]["positive_class"],
        encoder=TRAIN_ENCODER,
    threads: 1
    resources:
        mem_mb=lambda wc, input: training_memory_mb(input.size_mb),
        runtime=lambda wc, input: training_minutes(input.size_mb),
    log:
        f"{LOGS}/train_pu/{{task}}.log",
    benchmark:
        f"{BENCHMARKS}/train_pu/{{task}}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_pu.py"


rule evaluate:
    input:
        unpack(evaluation_inputs),
    output:
        json="results/evaluation/{task}.json",
        md="results/evaluation/{task}.md",
    params:
        classes=lambda wc: TASKS[wc.task]["classes"],
        models=config["training"]["models"],
        tumor_threshold=config["pu"]["tumor_threshold"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{LOGS}/evaluate/{{task}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/evaluate.py"
