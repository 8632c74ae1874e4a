"""``wheelguard smoke``: install a wheel into fresh environments, import it, watch what it maps,
and, given the last release, compare the two on this machine.

The flow, one module per step: :mod:`.options` (what was asked), :mod:`.wheelhouse` (what the
wheelhouses lack, found in one pass), :mod:`.environments` (fresh environments per layout),
:mod:`.process` (running commands and the probe), :mod:`.probe` (the standalone script inside
the environment) and :mod:`.gemm` (its drivers), :mod:`.judge` (checks on what the probe
reported), :mod:`.compare` and :mod:`.gate` (the baseline comparison: interleaved rounds, and
the verdict on their paired ratios), :mod:`.result` (frozen values and their JSON), :mod:`.run`
(the orchestration).

Kept free of imports: :mod:`wheelguard.policy.schema` reads the driver names from
:mod:`.gemm`, which must not pull in the rest of the run.
"""
