# Patient-level splits, MIL training per task / model / fold, PU tile learning, out-of-fold evaluation.
from slidesnake.mil.params import TrainParams
from slidesnake.pu.params import PUParams


rule splits:
    output:
        paths.SPLITS,
    log:
        paths.log("splits", "{task}"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        labels=labels_param,
        kind=IN.task_type,
        patients=IN.patients(paths.TRAIN_COHORT),
        sites=sites_param,
        split_by=config["training"]["split_by"],
        folds=FOLDS,
        seed=config["training"]["seed"],
    script:
        "../scripts/splits.py"


rule train_mil:
    input:
        splits=paths.SPLITS,
        manifest=IN.mil_manifest(paths.TRAIN_COHORT),
        corrections=IN.flat_files(IN.mil_corrected_labels),
    output:
        model=paths.MODEL,
        metrics=paths.METRICS,
        predictions=paths.FOLD_PREDICTIONS,
        tile_scores=paths.FOLD_TILE_SCORES,
    log:
        paths.log("train_mil", "{task}/{model}/fold{fold}"),
    benchmark:
        paths.benchmark("train_mil", "{task}/{model}/fold{fold}")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=IN.training_memory_mb,
        runtime=IN.training_minutes,
    params:
        classes=IN.task_classes,
        task=IN.task_spec,
        training=section_params(TrainParams, config["training"]),
        encoder=TRAIN_ENCODER,
        # annotated tiles supervise the evidence only with training.instance_weight > 0 (pu's tile threshold)
        tumor_threshold=(config["pu"]["tumor_threshold"] if config["training"]["instance_weight"] > 0 else None),
        corrected=IN.mil_corrected_labels,
    script:
        "../scripts/train_mil.py"


rule train_pu:
    input:
        splits=paths.SPLITS,
        manifest=IN.feature_manifest(paths.TRAIN_COHORT),
        corrections=IN.flat_files(IN.corrected_labels),
    output:
        tile_scores=paths.PU_TILE_SCORES,
        slide_scores=paths.PU_SLIDE_SCORES,
        prior=paths.PU_PRIOR,
    log:
        paths.log("train_pu", "{task}"),
    benchmark:
        paths.benchmark("train_pu", "{task}")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=IN.training_memory_mb,
        runtime=IN.training_minutes,
    params:
        pu=section_params(PUParams, config["pu"]),
        positive_class=config["pu"]["positive_class"],
        encoder=TRAIN_ENCODER,
        corrected=IN.corrected_labels,
    script:
        "../scripts/train_pu.py"


rule evaluate:
    input:
        IN.flat_files(IN.evaluation_files),
        manifest=IN.slide_manifest(paths.TRAIN_COHORT),
        qc=IN.qc_table(paths.TRAIN_COHORT),
        splits=paths.SPLITS,
    output:
        json=paths.EVALUATION_JSON,
        md=report(paths.EVALUATION_MD, caption="../report/evaluation.rst", category="Cohort {task}"),
    log:
        paths.log("evaluate", "{task}"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        files=IN.evaluation_files,
        classes=IN.task_classes,
        kind=IN.task_type,
        tumor_threshold=config["pu"]["tumor_threshold"],
    script:
        "../scripts/evaluate.py"
