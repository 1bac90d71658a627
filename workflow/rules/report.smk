# Paper outputs: tables, figures, report.


def report_outputs():
    return []
