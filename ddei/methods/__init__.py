"""The methods and a run's configuration: the method registry (:mod:`ddei.methods.registry`), the config's schema
checks (:mod:`ddei.methods.schema`) and the typed configuration of one run (:mod:`ddei.methods.config`).

Imports neither torch nor deepinv: the workflow reads it when it parses the Snakefile.
"""
