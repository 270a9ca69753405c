"""Timing engines: one interface (:class:`Engine`), one result schema."""

from __future__ import annotations

from simulator.overlay.engines.analytical import AnalyticalEngine
from simulator.overlay.engines.base import Engine, LayerJob, LayerTiming
from simulator.overlay.engines.event import EventEngine

__all__ = ["ENGINES", "AnalyticalEngine", "Engine", "EventEngine", "LayerJob", "LayerTiming",
           "get_engine"]

ENGINES: dict[str, type[Engine]] = {"analytical": AnalyticalEngine, "event": EventEngine}


def get_engine(engine: str | Engine) -> Engine:
    if isinstance(engine, Engine):
        return engine
    try:
        return ENGINES[engine]()
    except KeyError:
        from workloads.errors import ConfigError

        raise ConfigError(f"unknown engine; allowed: {', '.join(ENGINES)}", key="--engine",
                          value=engine, has_value=True) from None
