"""The checks: one module per concern (:mod:`~wheelguard.checks.registry` lists them;
:mod:`~wheelguard.checks.context` is what each may read)."""
