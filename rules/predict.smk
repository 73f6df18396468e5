# Out-of-fold predictions of the training cohort; the fold models and their ensemble on new slides.


rule oof_predictions:
    input:
        IN.fold_outputs(paths.FOLD_PREDICTIONS),
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
        classes=IN.task_classes,
    script:
        "../scripts/oof_predictions.py"


rule deploy_predictions:
    input:
        models=IN.fold_outputs(paths.MODEL),
        oof=IN.fold_outputs(paths.FOLD_PREDICTIONS),
        manifest=IN.mil_manifest(paths.NEW_COHORT),
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
        mem_mb=IN.training_memory_mb,
        runtime=IN.training_minutes,
    params:
        patients=IN.patients(paths.NEW_COHORT),
        sites=IN.cohort_sites(paths.NEW_COHORT),
    script:
        "../scripts/deploy_predictions.py"
