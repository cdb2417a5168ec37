"""Deciding a case: a policy loaded and vetted, the core, the solver, the decision and its explanation.

In: a policy folder (``load``) and a ``facts.model.Case``.  Out: a frozen
``Decision`` (engine/deciding/decision.py), per level and item, with every
criterion's status, its evidence and what would change it.  ``limited`` runs
work in a child within a time and memory limit; ``many`` reads case libraries
and decides them in chunks by forked workers.  Imports nothing from the other
wings nor from exchange/.  Start reading at ``solver.Engine.decide``.
"""

from __future__ import annotations

from engine.exports import lazy

_PUBLIC = {
    "Policy": "engine.deciding.policy",
    "load": "engine.deciding.policy",
    "resolve": "engine.deciding.policy",
    "shipped_policies": "engine.deciding.policy",
    "Engine": "engine.deciding.solver",
    "decide": "engine.deciding.solver",
    "Search": "engine.deciding.search",
    "Decision": "engine.deciding.decision",
    "ItemDecision": "engine.deciding.decision",
    "LevelDecision": "engine.deciding.decision",
    "CriterionResult": "engine.deciding.decision",
    "WouldChange": "engine.deciding.decision",
    "PolicyError": "engine.deciding.errors",
    "UserError": "engine.deciding.errors",
    "ChildError": "engine.deciding.limits",
    "Stopped": "engine.deciding.limits",
    "limited": "engine.deciding.limits",
    "Item": "engine.deciding.many",
    "chunks": "engine.deciding.many",
    "in_workers": "engine.deciding.many",
    "read_inputs": "engine.deciding.many",
}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy(__name__, _PUBLIC)
