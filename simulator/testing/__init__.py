"""Contract test suites for the simulator's seams, in the style of ``optuna.testing``.

Subclass a contract in a test module and supply its fixtures; every implementation of a seam
runs the same checks:

* :class:`~simulator.testing.family.FamilyContract` — an accelerator family.
* :class:`~simulator.testing.engine.EngineContract` — an overlay timing engine.

These modules import pytest (a test extra); nothing in the simulator imports them.
"""
