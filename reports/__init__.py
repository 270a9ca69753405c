"""Reports: result and study tables rendered as CSV, Markdown, figures and HTML (next on the
roadmap). Reports read results; they never re-run a simulation. Nothing is exported yet."""

__all__: list[str] = []
