# Built-in demo cohort: synthetic pyramidal H&E slides with known tumor truth.


rule demo_slide:
    output:
        slide=paths.DEMO_SLIDE,
        truth=paths.DEMO_TRUTH,
        annotation=paths.DEMO_ANNOTATION,
        stats=paths.DEMO_STATS,
        overview=paths.DEMO_OVERVIEW,
    log:
        paths.log("demo_slide", "{slide}"),
    benchmark:
        paths.benchmark("demo_slide", "{slide}")
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        plan=IN.demo_plan,
    script:
        "../scripts/demo_slide.py"


rule demo_cohort:
    input:
        stats=expand(paths.DEMO_STATS, slide=TRAIN_SLIDES if COHORT.is_demo else []),
    output:
        sheet=paths.DEMO_SHEET,
        truth=paths.DEMO_TRUTH_TABLE,
    log:
        paths.log("demo_cohort"),
    conda:
        "../envs/slideio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        slides={s: paths.fill(paths.DEMO_SLIDE, slide=s) for s in TRAIN_SLIDES if COHORT.is_demo},
        annotations={s: paths.fill(paths.DEMO_ANNOTATION, slide=s) for s in TRAIN_SLIDES if COHORT.is_demo},
        outcomes={s: COHORT.record(s).columns for s in TRAIN_SLIDES if COHORT.is_demo},
    script:
        "../scripts/demo_cohort.py"
