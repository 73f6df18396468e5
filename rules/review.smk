# The pathologist in the loop: the training cohort as a QuPath project with review layers (target rule `review`).
from slidesnake.review.params import ReviewParams


rule review_project:
    input:
        manifest=IN.review_input("manifest"),
        qc=IN.review_input("qc"),
        splits=IN.review_input("splits"),
        pu=IN.review_input("pu"),
        pu_run=IN.review_input("pu_run"),
        mil=IN.review_input("mil"),
        corrected=IN.review_input("corrected"),
        new=IN.review_input("new"),
    output:
        directory(paths.REVIEW_DIR),
    log:
        paths.log("review_project"),
    benchmark:
        paths.benchmark("review_project")
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=IN.review_minutes,
    params:
        model=IN.review_model,
        review=section_params(ReviewParams, config["review"]),
        tumor_threshold=config["pu"]["tumor_threshold"],
        positive_class=config["pu"]["positive_class"],
        corrected=IN.corrected_labels,
    script:
        "../scripts/review.py"


rule merge_corrections:
    input:
        tiles=paths.TILES,
        annotation=IN.annotation_input,
        corrections=IN.corrections_input,
    output:
        mask=paths.CORRECTED_MASK,
        labels=paths.CORRECTED_LABELS,
    log:
        paths.log("merge_corrections", "{slide}"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/merge_corrections.py"
