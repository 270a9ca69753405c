"""Number formats and compact specs: INQ's power-of-two kind (p2–p5) parses, round-trips,
is refused for activations, and the spelling written before it existed still reads."""

from __future__ import annotations

import pytest

from workloads.errors import ConfigError
from workloads.formats import NumberFormat
from workloads.quant import parse_quant


@pytest.mark.parametrize(("token", "levels", "planes"), [("p2", 1, 2), ("p3", 2, 3),
                                                         ("p4", 4, 5), ("p5", 8, 9)])
def test_pow2_tokens(token, levels, planes):
    f = NumberFormat.parse(token)
    assert (f.kind, f.bits, f.label, f.pow2_levels, f.planes) == ("pow2", int(token[1]), token,
                                                                  levels, planes)
    assert f.storage_bits == int(token[1]) and not f.full_precision


def test_pow2_specs_round_trip_and_are_refused_for_activations():
    q = parse_quant("wp5a2")
    assert q.default.weights.quantizer == "inq" and q.name == "wp5a2"
    assert parse_quant(q.to_dict()) == q
    for bad in ("w2ap3", "wp6a2", "wp1a1"):
        with pytest.raises(ConfigError) as err:
            parse_quant(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="power-of-two activations"):
        parse_quant("w2ap3")


def test_inq_written_as_an_int_kind_reads_as_pow2():
    old = {"default": {"weights": {"kind": "int", "bits": 5, "quantizer": "inq"},
                       "activations": {"kind": "int", "bits": 2}}}
    assert parse_quant(old).default.weights.format == NumberFormat("pow2", 5)
