"""wheelguard: make binary wheels of ML compiler stacks safe to ship.

Audit (``wheelguard audit``), repair under a policy (``wheelguard repair``), and smoke-test in
a fresh environment (``wheelguard smoke``). The library surface is :func:`audit_wheel` and the
model in :mod:`wheelguard.model`.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
