"""Pricing: the exact totals of every candidate tiling under every loop order, at once.

Every candidate is priced with the same closed forms the analytical engine reports. Channel
tiles fall into ≤ 2 classes per dimension (full tiles and the remainder) and pixel tiles into
the classes of :mod:`.candidates`, so the exact sums over all tiles are sums over classes,
vectorised over candidates; the order-dependent parts (fetch multiplicities, spills) come from
:mod:`.reuse`.
"""

from __future__ import annotations

import numpy as np

from simulator.overlay.chip import Chip, Dataflow
from simulator.overlay.cost import (
    ceil_div,
    effective_array,
    input_tile_bytes,
    output_tile_bytes,
    ppu_cycles,
    psum_tile_bytes,
    skip_tile_bytes,
    sub_arrays,
    tile_compute_cycles,
    tile_tail_cycles,
    weight_tile_bytes,
)
from simulator.overlay.dram import busy_cycles, transfer
from simulator.overlay.energy import energy_breakdown_pj, layer_actions, mac_counts
from simulator.overlay.mapping.candidates import Candidates
from simulator.overlay.mapping.records import PricedCandidates
from simulator.overlay.mapping.reuse import fetch_multiplicity, spills_for
from simulator.overlay.problem import Problem, Unit, mac_model
from simulator.tech import TechTable

__all__ = ["EXACT_LIMIT", "exact_bounds", "price_candidates"]

#: Totals are exact integers below this (float64's integer range; SimPy keeps time in floats).
EXACT_LIMIT = 2.0**53


def exact_bounds(p: Problem, chip: Chip, cands: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds, in float64 (which cannot overflow), of the largest cycle count and the
    largest byte count pricing may form for each candidate. A candidate whose bounds stay below
    :data:`EXACT_LIMIT` is priced exactly in int64; the others are never priced."""
    f = np.float64
    tk, tc = cands.tk.astype(f), cands.tc.astype(f)
    toy, tox = cands.toy.astype(f), cands.tox.astype(f)
    tiles = (np.ceil(p.K / tk) * np.ceil(p.C / tc) * cands.pixels.n_tiles.astype(f)
             * p.groups)
    px = toy * tox
    in_px = ((toy - 1) * p.stride + p.FY) * ((tox - 1) * p.stride + p.FX)
    words = p.words(cands.tc).astype(f)
    # one transfer moves at most the largest tile plus a burst per channel
    largest = np.maximum.reduce([
        tk * tc * p.FY * p.FX * p.w_bits / 8,
        (tk if p.depthwise else tc) * in_px * p.a_bits / 8 * p.operands,
        tk * px * max(p.acc_bits, p.out_bits) / 8,
    ]) + chip.dram.burst_bytes
    occupancy = largest / chip.channel_bytes_per_cycle + 1
    transfers = 6 * tiles  # weights, inputs, shortcuts, outputs, partial sums out and back
    if p.unit is Unit.ARRAY:  # Σ over folds of 2r + c + t − 2, every fold counted in full
        stretch = effective_array(p, chip)[2]
        df = chip.dataflow
        if df is Dataflow.OUTPUT_STATIONARY:
            sr, sc, t, mult = px, tk, words * p.passes * stretch, 1
        elif df is Dataflow.WEIGHT_STATIONARY:
            sr, sc, t, mult = words, tk, px * p.a_passes * stretch, p.w_passes
        else:
            sr, sc, t, mult = words, px, tk * p.w_passes * stretch, p.a_passes
        tile = mult * (2 * (sc + 1) * sr + (sr + 1) * sc + (sr + 1) * (sc + 1) * (t + 2))
    elif p.unit is Unit.INT8:
        tile = tk * tc * p.FY * p.FX * px * p.passes / chip.int8_unit_macs + 3
    else:
        tile = tk * px * p.window / chip.ppu_lanes + 1
    post = tk * px * p.window / chip.ppu_lanes + 1
    cycles = (tiles * (tile + post)
              + transfers * (occupancy + chip.dram_latency_cycles + tile))
    return cycles, transfers * largest


def _dim_classes(sizes: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, size) of the ≤ 2 tile classes of a dimension: full tiles and the remainder."""
    n = len(sizes)
    cnt = np.zeros((n, 2), dtype=np.int64)
    sz = np.ones((n, 2), dtype=np.int64)
    full = total // sizes
    rem = total - full * sizes
    cnt[:, 0], sz[:, 0] = full, sizes
    cnt[:, 1], sz[:, 1] = (rem > 0).astype(np.int64), np.where(rem > 0, rem, 1)
    return cnt, sz


def price_candidates(p: Problem, chip: Chip, cands: Candidates,
                     orders: tuple[tuple[str, ...], ...], *, tech: TechTable | None = None,
                     area_mm2: float = 0.0) -> PricedCandidates:
    """Exact totals for every candidate under each loop order: shape (len(orders), n). With a
    technology table (and the chip's area, for leakage) each candidate's energy too, counted
    by the same functions as a result's (``energy.layer_actions``)."""
    n = len(cands)
    lat = chip.dram_latency_cycles
    pt = cands.pixels
    kc, ks = _dim_classes(cands.tk, p.K)
    cc, cs = _dim_classes(cands.tc, p.C)
    pc, pout, pin = pt.count, pt.out_px, pt.in_px
    nk = ceil_div(p.K, cands.tk)
    nc = ceil_div(p.C, cands.tc)
    npx = pt.n_tiles
    g = p.groups

    # compute: all (k, c, p) class combinations
    k3, c3, p3 = ks[:, :, None, None], cs[:, None, :, None], pout[:, None, None, :]
    cnt3 = kc[:, :, None, None] * cc[:, None, :, None] * pc[:, None, None, :]
    per_tile = tile_compute_cycles(p, chip, k3, c3, p3)
    min_tile = np.where(cnt3 > 0, per_tile, np.iinfo(np.int64).max).min(axis=(1, 2, 3))
    # The layer's last tile (its last k, c and pixel tiles) adds a pipelined array's final skew
    # and drain, and may run on a sub-array (rows, cols) where that is shorter: all V choices
    # at once, along a leading axis (``sub_arrays``).
    k_end = np.where(kc[:, 1] > 0, ks[:, 1], ks[:, 0])
    c_end = np.where(cc[:, 1] > 0, cs[:, 1], cs[:, 0])
    choices = np.array(sub_arrays(p, chip), dtype=np.int64)  # (V, 2)
    used = (choices[:, :1], choices[:, 1:])
    last = (tile_compute_cycles(p, chip, k_end, c_end, pt.last_out, used=used)
            + tile_tail_cycles(p, chip, k_end, c_end, pt.last_out, used=used))
    last = np.broadcast_to(last, (len(choices), n))  # (V, n)
    best = np.argmin(last, axis=0)  # the first (the whole array) among equals
    compute = ((cnt3 * per_tile).sum(axis=(1, 2, 3)) * g
               - tile_compute_cycles(p, chip, k_end, c_end, pt.last_out)
               + last[best, np.arange(n)])
    used_rows, used_cols = choices[best, 0], choices[best, 1]

    # operand traffic: sums over each operand's own tiles (times a fetch multiplicity below)
    def traffic(cnt: np.ndarray, nbytes: np.ndarray) -> tuple[np.ndarray, ...]:
        occ, moved = transfer(chip, nbytes)
        live = (cnt > 0) & (nbytes > 0)
        return ((cnt * occ).sum(axis=(1, 2)), (cnt * moved).sum(axis=(1, 2)),
                (cnt * live).sum(axis=(1, 2)))

    zeros = np.zeros(n, dtype=np.int64)
    none: tuple[np.ndarray, ...] = (zeros, zeros, zeros)  # a stream kept on chip moves nothing
    w = (traffic(kc[:, :, None] * cc[:, None, :],
                 weight_tile_bytes(p, ks[:, :, None], cs[:, None, :]))
         if p.w_bits and p.w_dram else none)
    if not p.in_dram:
        i_t = none
    elif p.depthwise:
        i_t = traffic(kc[:, :, None] * pc[:, None, :],
                      input_tile_bytes(p, ks[:, :, None], pin[:, None, :]))
    else:
        i_t = traffic(cc[:, :, None] * pc[:, None, :],
                      input_tile_bytes(p, cs[:, :, None], pin[:, None, :]))
    kp_cnt = kc[:, :, None] * pc[:, None, :]
    o_t = (traffic(kp_cnt, output_tile_bytes(p, ks[:, :, None], pout[:, None, :]))
           if p.out_dram else none)
    s_t = traffic(kp_cnt, psum_tile_bytes(p, ks[:, :, None], pout[:, None, :]))
    # a fused residual add reads the shortcut of each final output tile before its store
    sk_t = (traffic(kp_cnt, skip_tile_bytes(p, ks[:, :, None], pout[:, None, :]))
            if p.skip_bits else none)
    post = zeros if p.unit is Unit.PPU else \
        (kp_cnt * ppu_cycles(p, chip, ks[:, :, None], pout[:, None, :])).sum(axis=(1, 2)) * g

    # the first tile's loads and the last tile's post-processing and store
    k0, c0 = ks[:, 0], cs[:, 0]
    first_occ = (transfer(chip, input_tile_bytes(p, k0 if p.depthwise else c0, pt.first_in))[0]
                 if p.in_dram else zeros)
    first_w, first_w_moved = ((transfer(chip, weight_tile_bytes(p, k0, c0)))
                              if p.w_bits and p.w_dram else (zeros, zeros))
    first_occ = first_occ + first_w
    k_last = np.where(kc[:, 1] > 0, ks[:, 1], ks[:, 0])
    last_post = zeros if p.unit is Unit.PPU else ppu_cycles(p, chip, k_last, pt.last_out)
    last_store = (last_post + transfer(chip, output_tile_bytes(p, k_last, pt.last_out))[0] + lat
                  if p.out_dram else last_post)
    if p.skip_bits:
        last_store = last_store + transfer(chip, skip_tile_bytes(p, k_last, pt.last_out))[0] + lat
    first_load = first_occ + np.where(first_occ > 0, lat, 0)  # (nothing to load: no wait)

    # order-dependent terms for all orders at once: shape (orders, candidates)
    w_mult = (fetch_multiplicity("w", orders, nk, nc, npx) if p.w_bits
              else np.ones((len(orders), n), dtype=np.int64))
    i_mult = fetch_multiplicity("i_dw" if p.depthwise else "i", orders, nk, nc, npx)
    spill = spills_for(orders, nk, nc, npx)
    s_rounds = np.where(spill, 2 * (nc - 1), 0)  # written and read back nc-1 times
    alone = (w[0] * w_mult + i_t[0] * i_mult + o_t[0] + sk_t[0] + s_t[0] * s_rounds) * g
    transfers = (w[2] * w_mult + i_t[2] * i_mult + o_t[2] + sk_t[2] + s_t[2] * s_rounds) * g
    # each load holds a slot for its transfer, its latency and at least one tile's compute;
    # each output tile holds one from its first compute to the end of its store
    hold_w = (w[0] + w[2] * (lat + min_tile)) * w_mult * g
    hold_i = (i_t[0] + i_t[2] * (lat + min_tile)) * i_mult * g
    stores = (o_t[2] + s_t[2] * s_rounds // 2) * g
    hold_o = ((o_t[0] + sk_t[0] + s_t[0] * s_rounds) * g + post + stores * (lat + min_tile)
              + sk_t[2] * g * lat)  # a fused add's shortcut read: its transfer and latency
    streams = {"weight_bytes": w[1] * w_mult * g,
               "input_bytes": i_t[1] * i_mult * g + sk_t[1] * g,
               "output_bytes": o_t[1] * g, "psum_bytes": s_t[1] * s_rounds * g}
    # the DRAM's busy time: every burst over all channels (addresses interleave across
    # transfers, so the channels share the load evenly); each transfer alone still takes its
    # busiest channel's time (the slot holds above)
    occupancy = busy_cycles(chip, sum(streams.values()))
    slot = np.maximum(np.maximum(ceil_div(hold_w, chip.weight_buffer.slots),
                                 ceil_div(hold_i, chip.input_buffer.slots)),
                      ceil_div(hold_o, chip.output_buffer.slots))
    cycles = np.maximum(np.maximum(
        first_load + np.maximum(compute, post - last_post) + last_store,
        np.where(occupancy > 0, occupancy + lat, 0)), slot)
    energy = np.zeros((len(orders), n))
    if tech is not None:
        mac = None if p.unit is Unit.PPU else mac_counts(p, chip, kc, ks, cc, cs, pc, pout,
                                                          cands.tc, pin=pin)
        dram = sum(streams.values())
        actions = layer_actions(p, chip, dram_bytes=dram, mac=mac, **streams)
        parts = energy_breakdown_pj(actions, chip, tech, cycles=cycles, area_mm2=area_mm2,
                                    acc_bits=p.acc_bits, model=mac_model(p, chip))
        for value in parts.values():
            energy = energy + np.asarray(value, dtype=np.float64)
    return PricedCandidates.broadcast(
        (len(orders), n),
        compute=compute, post=post, occupancy=occupancy, transfers=transfers,
        first_load=first_load, first_weight=first_w, first_weight_moved=first_w_moved,
        last_post=last_post, last_store=last_store, slot=slot,
        serial=compute + post + alone + transfers * lat, spill=spill,
        tiles=nk * nc * npx * g, rows=used_rows, cols=used_cols, cycles=cycles,
        energy=energy, **streams,
    )
