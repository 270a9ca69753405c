"""The overlay passes the family contract (``simulator.testing.family``)."""

from __future__ import annotations

import copy

import pytest
from conftest import TINY

from simulator.overlay import OverlayFamily
from simulator.testing.family import FamilyContract
from workloads.network import NetworkBuilder
from workloads.quant import parse_quant


class TestOverlayFamily(FamilyContract):
    @pytest.fixture
    def family(self):
        return OverlayFamily()

    @pytest.fixture
    def chip_data(self):
        # 24-bit accumulators: the workload's 8-bit-activation first layer sums 147 products
        return {**copy.deepcopy(TINY), "accumulator_bits": 24}

    @pytest.fixture
    def workload(self):
        # 8-bit pixels into a 7×7 conv, a pool, a binary conv and a classifier
        b = NetworkBuilder("small", (3, 16, 16))
        b.conv("conv1", 16, 7, stride=2, padding=3)
        b.pool("pool1", 2)
        b.conv("conv2", 32, 3, padding=1)
        b.fc("fc", 10)
        return b.build(parse_quant({"default": "w1a1", "first": "w1a8"}))

    @pytest.fixture
    def infeasible_overrides(self):
        # conv1's smallest input tile is 1 channel × 7 × 7 × 8 bits = 392 bits; half of a
        # 1/16 KiB double buffer holds 256
        return ["buffers.input.size_kib=0.0625"]
