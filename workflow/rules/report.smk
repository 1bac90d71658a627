# Paper outputs: results table, Wilcoxon tests, figures; all marked for `snakemake --report results/report.html`.
# Their inputs are the evaluation's and training's outputs only (metrics/all.csv, recon/*.npz, models/*/loss.csv),
# so rebuilding a table or figure never retrains or re-evaluates anything.

rule table:
    input:
        results_path(ALL_METRICS),
        record=ALL_METRICS_RECORD,
    output:
        csv=report(
            results_path("tables/results.csv"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "CSV (all metrics)"},
        ),
        md=report(
            results_path("tables/results.md"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "Markdown"},
        ),
        tex=report(
            results_path("tables/results.tex"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "LaTeX (booktabs)"},
        ),
        html=report(
            results_path("tables/results.html"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "HTML"},
        ),
    params:
        methods=EVALUATED,
        accelerations=ACCELERATIONS,
        metrics=list(PAPER_METRICS),  # the paper's Table 1; the CSV has NMSE too
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("table.py"),
    log:
        results_path("logs/report/table.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table.py"


rule wilcoxon:
    input:
        results_path(ALL_METRICS),
        record=ALL_METRICS_RECORD,
    output:
        csv=report(
            results_path("tables/wilcoxon.csv"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "CSV"},
        ),
        md=report(
            results_path("tables/wilcoxon.md"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "Markdown"},
        ),
        html=report(
            results_path("tables/wilcoxon.html"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "HTML"},
        ),
    params:
        reference=config["evaluation"]["reference"],
        methods=EVALUATED,
        accelerations=ACCELERATIONS,
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("wilcoxon.py"),
    log:
        results_path("logs/report/wilcoxon.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/wilcoxon.py"


rule cine_figure:
    input:
        # in the order of params.methods
        recon=lambda wc: [results_path(result(RECON, m, wc.acc, REPORT_SEED)) for m in ["zf"] + EVALUATED],
        metrics=results_path(ALL_METRICS),
        record=ALL_METRICS_RECORD,
    output:
        gif=results_path("figures/cine_acc{acc}.gif"),  # in the report through its HTML viewer (reports do not show GIFs)
        html=report(
            results_path("figures/cine_acc{acc}.html"),
            caption="../report/cine.rst",
            category="3. Reconstructions",
            subcategory="Videos",
            labels={"acceleration": "×{acc}"},
        ),
        png=report(
            results_path("figures/frame_acc{acc}.png"),
            caption="../report/frame.rst",
            category="3. Reconstructions",
            subcategory="Still frame and x–t profiles",
            labels={"acceleration": "×{acc}"},
        ),
    params:
        methods=["zf"] + EVALUATED,
        seed=REPORT_SEED,
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("cine_figure.py"),
    log:
        results_path("logs/report/cine_acc{acc}.log"),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/cine_figure.py"


rule metrics_figure:
    input:
        results_path(ALL_METRICS),
        record=ALL_METRICS_RECORD,
    output:
        report(
            results_path("figures/metrics_vs_acceleration.png"),
            caption="../report/metrics.rst",
            category="4. Metrics and training",
            labels={"figure": "PSNR and SSIM vs acceleration"},
        ),
    params:
        methods=EVALUATED,
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("metrics_figure.py"),
    log:
        results_path("logs/report/metrics_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/metrics_figure.py"


rule training_figure:
    input:
        logs=[results_path(result(LOSS, m, a, s)) for m, a, s in get_training_runs()],
        models=[results_path(result(MODEL, m, a, s)) for m, a, s in get_training_runs()],  # the logs' checksums
    output:
        relative=report(
            results_path("figures/training_curves.png"),
            caption="../report/training.rst",
            category="4. Metrics and training",
            labels={"figure": "training loss (relative)"},
        ),
        raw=report(
            results_path("figures/training_curves_raw.png"),
            caption="../report/training_raw.rst",
            category="4. Metrics and training",
            labels={"figure": "training loss (per method)"},
        ),
    params:
        runs=get_training_runs(),
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("training_figure.py"),
    log:
        results_path("logs/report/training_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/training_figure.py"


rule validation_figure:
    input:
        logs=[results_path(result(VAL, m, a, s)) for m, a, s in get_training_runs()],
        models=[results_path(result(MODEL, m, a, s)) for m, a, s in get_training_runs()],  # the logs' checksums
    output:
        report(
            results_path("figures/validation_curves.png"),
            caption="../report/validation.rst",
            category="4. Metrics and training",
            labels={"figure": "validation PSNR"},
        ),
    params:
        runs=get_training_runs(),
        catalogue=get_catalogue_params(),
        code=get_code_fingerprint("validation_figure.py"),
    log:
        results_path("logs/report/validation_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/validation_figure.py"
