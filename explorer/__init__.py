"""Design-space exploration with Optuna (next on the roadmap; see docs/design.md).

It will search chip parameters (through the same dotted-path overrides as ``--set``) and
quantisation configs against accuracy (``reference``), latency and energy (``simulator``).
Nothing is exported yet.
"""

__all__: list[str] = []
