"""Built-in DRAM types: per-channel width, data rate, burst, latency and energy per bit, each
with its source.

A chip file names a type (``dram.type: lpddr4``) and a channel count; every field below is a
default the file may override (``dram.data_rate_mtps: 2133`` for a slower speed grade). The
energy is per bit moved between the DRAM and the chip, I/O included; it belongs to the memory,
not to the logic node, so it lives here and not in the technology table.

Sources (full references in docs/simulator.md, "DRAM types"):

- JEDEC standards for the interface: JESD79-3 (DDR3), JESD79-4 (DDR4), JESD209-4 (LPDDR4),
  JESD209-5 (LPDDR5), JESD235 (HBM2), JESD212 (GDDR5). Channel width × data rate is the
  channel's peak bandwidth; width × burst length is the smallest transfer.
- Latency: the device's row-miss access, tRP + tRCD + CL of a common speed bin. It leaves out
  the memory controller and PHY; a chip file adds them by setting ``dram.latency_ns``.
- Energy: [H14] M. Horowitz, "Computing's energy problem", ISSCC 2014 (a 64-bit DRAM access
  1.3–2.6 nJ); [OC17] M. O'Connor et al., "Fine-Grained DRAM", MICRO 2017 (HBM2 3.9 pJ/bit,
  GDDR5 14 pJ/bit); [ACC] the DRAM table of Accelergy's CACTI plug-in (LPDDR4 8 pJ/bit, "public
  data"; Y. N. Wu et al., ICCAD 2019). DDR4 and LPDDR5 are derived where no measured figure was
  at hand, and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DRAM_TYPES", "DramType"]


@dataclass(frozen=True, slots=True)
class DramType:
    name: str
    standard: str  # the speed grade the defaults describe
    width_bits: int  # data pins of one channel
    data_rate_mtps: float  # transfers per second per pin, millions
    burst_length: int  # transfers per burst (the smallest access)
    latency_ns: float  # row miss: tRP + tRCD + CL
    energy_pj_per_bit: float
    source: str

    @property
    def channel_gbps(self) -> float:
        return self.width_bits * self.data_rate_mtps / 8 / 1000

    @property
    def burst_bytes(self) -> int:
        return self.width_bits * self.burst_length // 8


DRAM_TYPES: dict[str, DramType] = {t.name: t for t in (
    DramType("ddr3", "DDR3-1600K (11-11-11), x64 channel", 64, 1600, 8, 41.25, 30.47,
             "JESD79-3; energy: [H14] midpoint of 1.3–2.6 nJ per 64-bit access"),
    DramType("ddr4", "DDR4-3200AA (22-22-22), x64 channel", 64, 3200, 8, 41.25, 19.5,
             "JESD79-4; energy derived: DDR3's [H14] 30.47 pJ/bit × (1.2 V / 1.5 V)²"),
    DramType("lpddr4", "LPDDR4-3200, x16 channel", 16, 3200, 16, 53.5, 8.0,
             "JESD209-4 (tRPpb 18 ns, tRCD 18 ns, RL 28 tCK); energy: [ACC] 8 pJ/bit"),
    DramType("lpddr5", "LPDDR5-6400, x16 channel", 16, 6400, 16, 56.0, 5.6,
             "JESD209-5; energy derived: LPDDR4's 8 pJ/bit × 0.7 (the 30 % power saving "
             "announced for LPDDR5 by Samsung, 2018)"),
    DramType("hbm2", "HBM2 2.0 Gb/s/pin, one 128-bit channel (8 per stack)", 128, 2000, 2,
             42.0, 3.9, "JESD235A (tRP, tRCD, CL about 14 ns each); energy: [OC17] 3.9 pJ/bit"),
    DramType("gddr5", "GDDR5 8 Gb/s/pin, x32 channel", 32, 8000, 8, 40.0, 14.0,
             "JESD212 (latency approximate); energy: [OC17] 14 pJ/bit"),
)}
