"""bnnsim: the command-line entry point (the packages are simulator, workloads, explorer,
reference and reports)."""

__all__: list[str] = []
