"""Where results come from, and whether they can be trusted: the fingerprints of code, data and package versions
that decide what reruns (:mod:`ddei.provenance.fingerprints`), the checks of the intermediates on disk
(:mod:`ddei.provenance.integrity`), and why a job would rerun (:mod:`ddei.provenance.reasons`).
"""
