"""The overlay mapper, by job: which tilings to try (``candidates``), how a loop order reuses
operand tiles (``reuse``), their exact totals (``pricing``) and the choice (``search``), with
typed records between the stages (``records``)."""

from __future__ import annotations

from simulator.overlay.mapping.records import Mapping, PricedCandidates, Totals
from simulator.overlay.mapping.reuse import LOOP_ORDERS
from simulator.overlay.mapping.search import choose_mapping, price

__all__ = ["LOOP_ORDERS", "Mapping", "PricedCandidates", "Totals", "choose_mapping", "price"]
