# Paper outputs: results table, Wilcoxon tests, figures; all marked for `snakemake --report results/report.html`.
# Their inputs are the evaluation's and training's outputs only (metrics/all.csv, recon/*.npz, models/*/loss.csv),
# so rebuilding a table or figure never retrains or re-evaluates anything.

rule table:
    input:
        R("metrics/all.csv"),
    output:
        csv=report(
            R("tables/results.csv"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "CSV (all metrics)"},
        ),
        md=report(
            R("tables/results.md"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "Markdown"},
        ),
        tex=report(
            R("tables/results.tex"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "LaTeX (booktabs)"},
        ),
        html=report(
            R("tables/results.html"),
            caption="../report/table.rst",
            category="1. Results table",
            labels={"table": "results", "format": "HTML"},
        ),
    params:
        methods=EVALUATED,
        accelerations=ACCELERATIONS,
        metrics=["psnr", "ssim"],  # the paper's Table 1; the CSV has NMSE too
        catalogue=catalogue_params(),
        code=code("table.py"),
    log:
        R("logs/report/table.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table.py"


rule wilcoxon:
    input:
        R("metrics/all.csv"),
    output:
        csv=report(
            R("tables/wilcoxon.csv"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "CSV"},
        ),
        md=report(
            R("tables/wilcoxon.md"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "Markdown"},
        ),
        html=report(
            R("tables/wilcoxon.html"),
            caption="../report/wilcoxon.rst",
            category="2. Statistical tests",
            labels={"table": "Wilcoxon signed-rank", "format": "HTML"},
        ),
    params:
        reference=config["evaluation"]["reference"],
        methods=EVALUATED,
        accelerations=ACCELERATIONS,
        catalogue=catalogue_params(),
        code=code("wilcoxon.py"),
    log:
        R("logs/report/wilcoxon.log"),
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
        recon=lambda wc: [R(f"recon/{slug(m)}/acc{wc.acc}/seed{REPORT_SEED}.npz") for m in ["zf"] + EVALUATED],
        metrics=R("metrics/all.csv"),
    output:
        gif=R("figures/cine_acc{acc}.gif"),  # in the report through its HTML viewer (reports do not show GIFs)
        html=report(
            R("figures/cine_acc{acc}.html"),
            caption="../report/cine.rst",
            category="3. Reconstructions",
            subcategory="Videos",
            labels={"acceleration": "×{acc}"},
        ),
        png=report(
            R("figures/frame_acc{acc}.png"),
            caption="../report/frame.rst",
            category="3. Reconstructions",
            subcategory="Still frame and x–t profiles",
            labels={"acceleration": "×{acc}"},
        ),
    params:
        methods=["zf"] + EVALUATED,
        seed=REPORT_SEED,
        catalogue=catalogue_params(),
        code=code("cine_figure.py"),
    log:
        R("logs/report/cine_acc{acc}.log"),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/cine_figure.py"


rule metrics_figure:
    input:
        R("metrics/all.csv"),
    output:
        report(
            R("figures/metrics_vs_acceleration.png"),
            caption="../report/metrics.rst",
            category="4. Metrics and training",
            labels={"figure": "PSNR and SSIM vs acceleration"},
        ),
    params:
        methods=EVALUATED,
        catalogue=catalogue_params(),
        code=code("metrics_figure.py"),
    log:
        R("logs/report/metrics_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/metrics_figure.py"


rule training_figure:
    input:
        [R(f"models/{slug(m)}/acc{a}/seed{s}/loss.csv") for m, a, s in loss_runs()],
    output:
        relative=report(
            R("figures/training_curves.png"),
            caption="../report/training.rst",
            category="4. Metrics and training",
            labels={"figure": "training loss (relative)"},
        ),
        raw=report(
            R("figures/training_curves_raw.png"),
            caption="../report/training_raw.rst",
            category="4. Metrics and training",
            labels={"figure": "training loss (per method)"},
        ),
    params:
        runs=loss_runs(),
        catalogue=catalogue_params(),
        code=code("training_figure.py"),
    log:
        R("logs/report/training_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/training_figure.py"


rule validation_figure:
    input:
        [R(f"models/{slug(m)}/acc{a}/seed{s}/val.csv") for m, a, s in loss_runs()],
    output:
        report(
            R("figures/validation_curves.png"),
            caption="../report/validation.rst",
            category="4. Metrics and training",
            labels={"figure": "validation PSNR"},
        ),
    params:
        runs=loss_runs(),
        catalogue=catalogue_params(),
        code=code("validation_figure.py"),
    log:
        R("logs/report/validation_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/validation_figure.py"
