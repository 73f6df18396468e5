# Built-in demo cohort: synthetic pyramidal H&E slides with known tumor truth.


rule demo_slide:
    output:
        slide="resources/demo/{slide}.tiff",
        truth="resources/demo/{slide}_truth.png",
        annotation="resources/demo/{slide}_annotation.png",
        stats="resources/demo/{slide}.json",
        overview="resources/demo/{slide}_truth_overview.jpg",
    params:
        plan=lambda wc: plan_as_params(DEMO_PLANS[wc.slide]),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    log:
        f"{LOGS}/demo_slide/{{slide}}.log",
    benchmark:
        f"{BENCHMARKS}/demo_slide/{{slide}}.tsv"
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/demo_slide.py"


rule demo_cohort:
    input:
        stats=expand("resources/demo/{slide}.json", slide=SLIDES if DEMO else []),
    output:
        sheet="resources/demo/samples.tsv",
        truth="resources/demo/truth.tsv",
    params:
        slide_dir=lambda wc, output: str(Path(output.sheet).parent),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{LOGS}/demo_cohort.log",
    conda:
        "../envs/slideio.yaml"
    script:
        "../scripts/demo_cohort.py"
