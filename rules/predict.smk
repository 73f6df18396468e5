# Out-of-fold predictions of the training cohort; the fold models and their ensemble on new slides.


rule oof_predictions:
    input:
        lambda wc: [f"results/models/{wc.task}/{wc.model}/fold{k}/predictions.csv"
                    for k in range(config["training"]["folds"])],
    output:
        slides="results/predictions/{task}/{model}_oof.csv",
        patients="results/predictions/{task}/{model}_oof_patients.csv",
    params:
        classes=lambda wc: TASKS[wc.task]["classes"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{LOGS}/oof_predictions/{{task}}/{{model}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/oof_predictions.py"


rule deploy_predictions:
    input:
        unpack(lambda wc: {"models": [f"results/models/{wc.task}/{wc.model}/fold{k}/model.pt"
                                      for k in range(config["training"]["folds"])], **deploy_features(wc)}),
    output:
        slides="results/predictions/{task}/{model}_new.csv",
        patients="results/predictions/{task}/{model}_new_patients.csv",
        tile_scores="results/predictions/{task}/{model}_new_tile_scores.h5",
    params:
        patients=lambda wc: {s: sample(s)["patient_id"] for s in DEPLOY_SLIDES},
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wc, input: training_memory_mb(input.size_mb),
        runtime=lambda wc, input: training_minutes(input.size_mb),
    log:
        f"{LOGS}/deploy_predictions/{{task}}/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/deploy_predictions/{{task}}/{{model}}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/deploy_predictions.py"
