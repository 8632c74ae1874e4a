"""Policies: what a project says must happen to what its wheels ship.

:mod:`~wheelguard.policy.schema` holds the values (rules, matchers, the ``[smoke]`` table),
:mod:`~wheelguard.policy.load` reads and validates TOML into them, and
:mod:`~wheelguard.policy.decide` decides, per finding subject, which rule wins (its
``decide`` function is not re-exported here: the name would hide the module).
"""

from wheelguard.policy.decide import Decisions, Verdict, assign_actions
from wheelguard.policy.load import load_policy, load_policy_set, parse_policy
from wheelguard.policy.schema import Policy, PolicySet

__all__ = [
    "Decisions",
    "Policy",
    "PolicySet",
    "Verdict",
    "assign_actions",
    "load_policy",
    "load_policy_set",
    "parse_policy",
]
