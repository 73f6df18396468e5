# Out-of-fold predictions of the training cohort; the fold models and their ensemble on new slides.


rule oof_predictions:
    input:
        fold_outputs(paths.FOLD_PREDICTIONS),
    output:
        slides=paths.OOF_SLIDE_PREDICTIONS,
        patients=paths.OOF_PATIENTS,
    log:
        paths.log("oof_predictions", "{task}/{model}"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        classes=task_classes,
    script:
        "../scripts/oof_predictions.py"


rule deploy_predictions:
    input:
        models=fold_outputs(paths.MODEL),
        manifest=mil_manifest(paths.NEW_COHORT),
    output:
        slides=paths.NEW_SLIDE_PREDICTIONS,
        patients=paths.NEW_PATIENTS,
        tile_scores=paths.NEW_TILE_SCORES,
    log:
        paths.log("deploy_predictions", "{task}/{model}"),
    benchmark:
        paths.benchmark("deploy_predictions", "{task}/{model}")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=training_memory_mb,
        runtime=training_minutes,
    params:
        patients=patients_param(paths.NEW_COHORT),
    script:
        "../scripts/deploy_predictions.py"
