"""Event engine: SimPy processes for the DRAM, the buffers, the compute unit and the PPU.

One event chain per tile, never per cycle. A loader walks the tile schedule and fetches each
new weight / input tile as soon as a buffer slot is free (so loading tile i+1 overlaps
computing tile i when double-buffered); a tile that starts an output tile takes an output
slot there too and prefetches its partial sums like any other load. The compute unit runs
tiles in order once their operands have arrived; finished output tiles go through the PPU and
are stored while the next tiles compute. Transfers queue on the DRAM channels their bursts
map to, so the streams contend.

The compute unit's idle time is recorded by cause (``STALL_CAUSES``): waiting for operands
in flight (``dram``), for the loader held up by a full input or weight buffer (``buffers``)
or by an output slot still in post-processing or write-back (``ppu``); after the last tile,
its post-processing (``ppu``) and store (``dram``). Busy and stall cycles sum to the layer's
cycles, and the largest of them is the layer's ``bound``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from simulator.overlay.buffers import TileBuffer
from simulator.overlay.chip import Chip
from simulator.overlay.dram import Dram
from simulator.overlay.engines.base import STALL_CAUSES, Engine, LayerTiming
from simulator.overlay.mapping import Mapping, Totals
from simulator.overlay.pe_array import ComputeUnit
from simulator.overlay.problem import Problem
from simulator.overlay.schedule import build_schedule
from simulator.trace import Trace
from workloads.errors import ConfigError

__all__ = ["MAX_EVENT_TILES", "MAX_EVENT_TILES_TOTAL", "EventEngine"]

#: Most tiles of one layer, and of a whole network, the event engine times (about a minute
#: and two at 15 k tiles/s); beyond them the analytical engine (which sums tile classes, not
#: tiles) is the tool.
MAX_EVENT_TILES = 1_000_000
MAX_EVENT_TILES_TOTAL = 2_000_000


class EventEngine(Engine):
    name = "event"
    traces = True

    def check_network(self, mappings: Sequence[Mapping]) -> None:
        total = sum(m.tiles for m in mappings)
        if total > MAX_EVENT_TILES_TOTAL:
            raise ConfigError(f"the network maps to {total:,} tiles on this chip; the event "
                              f"engine times at most {MAX_EVENT_TILES_TOTAL:,} per run — use "
                              "--engine analytical (or larger buffers)", key="--engine",
                              value=self.name, has_value=True)

    def time_layer(self, p: Problem, chip: Chip, mapping: Mapping, totals: Totals, *,
                   trace: Trace | None = None) -> LayerTiming:
        if mapping.tiles > MAX_EVENT_TILES:
            raise ConfigError(f"layer '{p.name}' maps to {mapping.tiles:,} tiles on this chip; "
                              f"the event engine times at most {MAX_EVENT_TILES:,} per layer — "
                              "use --engine analytical (or larger buffers)", key="--engine",
                              value=self.name, has_value=True)
        s = build_schedule(p, chip, mapping)
        env = simpy.Environment()
        dram = Dram(env, chip, trace)
        wbuf = TileBuffer(env, "weight", chip.weight_buffer)
        ibuf = TileBuffer(env, "input", chip.input_buffer)
        obuf = TileBuffer(env, "output", chip.output_buffer)
        unit = ComputeUnit(env, p.unit.value, trace)
        ppu = ComputeUnit(env, "ppu", trace)
        handoff: simpy.Store = simpy.Store(env)
        stats: dict[str, float] = {"compute_wait": 0, "load_wait": 0, "done": 0, "stored": 0}
        stalls: dict[str, float] = dict.fromkeys(STALL_CAUSES, 0)
        n = len(s)
        new_w, new_i = s.new_weight.tolist(), s.new_input.tolist()
        w_bytes, i_bytes = s.weight_bytes.tolist(), s.input_bytes.tolist()
        psum_in, store = s.psum_load_bytes.tolist(), s.store_bytes.tolist()
        skip = s.skip_bytes.tolist()
        compute, post = s.compute_cycles.tolist(), s.post_cycles.tolist()
        new_out, out_done = s.new_output.tolist(), s.output_done.tolist()
        rel_w, rel_i = s.weight_release.tolist(), s.input_release.tolist()
        last_writer: dict[str, float] = {}

        def loader() -> Generator[Any, Any, None]:
            w_ev = i_ev = None
            for i in range(n):
                waited = {"buffers": 0.0}
                for new, nbytes, buf, stream in ((new_w[i], w_bytes[i], wbuf, "weights"),
                                                 (new_i[i], i_bytes[i], ibuf, "inputs")):
                    if not new:
                        continue
                    t0 = env.now
                    yield buf.acquire()
                    waited["buffers"] += env.now - t0
                    # a tile of nothing but padding takes a slot but moves no data
                    ev = env.process(dram.transfer(nbytes, stream)) if nbytes else None
                    if buf is wbuf:
                        w_ev = ev
                    else:
                        i_ev = ev
                stats["load_wait"] += waited["buffers"]
                yield handoff.put((w_ev, i_ev))

        # Output slots are taken in output order by their own process, ahead of the compute
        # unit and without holding up the operand loads; a tile that continues a reduction
        # gets its partial sums read back (prefetched) as soon as it has its slot.
        slot_ready: dict[int, simpy.Event] = {}
        slot_taken: dict[int, float] = {}

        def outputs() -> Generator[Any, Any, None]:
            for i in range(n):
                if not new_out[i]:
                    continue
                yield obuf.acquire()
                slot_taken[i] = env.now
                slot_ready[i] = (env.process(dram.transfer(psum_in[i], "psums"))
                                 if psum_in[i] else env.timeout(0))
                arrived[i].succeed()

        arrived = {i: env.event() for i in range(n) if new_out[i]}

        def writer(i: int, last: bool) -> Generator[Any, Any, None]:
            if skip[i]:  # a fused residual add reads its shortcut first
                yield env.process(dram.transfer(skip[i], "inputs"))
            if post[i]:
                yield env.process(ppu.run(post[i], "post"))
            if last:
                last_writer["post_end"] = env.now
            yield env.process(dram.transfer(store[i], "outputs" if post[i] or p.w_bits == 0
                                            else "psums"))
            yield obuf.release()
            stats["stored"] += 1

        def computer() -> Generator[Any, Any, None]:
            for i in range(n):
                t0 = env.now
                w_ev, i_ev = yield handoff.get()
                stalls["buffers"] += env.now - t0  # the loader was waiting for a slot
                o_ev = None
                if new_out[i]:
                    t1 = env.now
                    yield arrived[i]  # an output slot (earlier outputs still leaving)
                    stalls["ppu"] += env.now - t1
                    o_ev = slot_ready[i]
                t1 = env.now
                pending = [e for e in (w_ev, i_ev, o_ev) if e is not None and not e.processed]
                if pending:
                    yield env.all_of(pending)
                stalls["dram"] += env.now - t1
                stats["compute_wait"] += env.now - t0
                yield env.process(unit.run(compute[i], f"tile{i}"))
                if rel_w[i]:
                    yield wbuf.release()
                if rel_i[i]:
                    yield ibuf.release()
                if out_done[i]:
                    env.process(writer(i, last=i == n - 1))
                stats["done"] += 1
            last_writer["compute_end"] = env.now

        env.process(loader())
        env.process(outputs())
        env.process(computer())
        env.run()
        if stats["done"] != n or stats["stored"] != int(s.output_done.sum()):
            raise RuntimeError(f"event engine: layer '{p.name}' finished {stats['done']:.0f} "
                               f"of {n} tiles and {stats['stored']:.0f} stores; please report")
        # after the last tile: its post-processing, then its store (and any earlier ones)
        end, done = env.now, last_writer["compute_end"]
        post_end = min(max(last_writer.get("post_end", done), done), end)
        stalls["ppu"] += post_end - done
        stalls["dram"] += end - post_end
        measured = {k: int(v) for k, v in stalls.items()}
        busy = int(sum(compute))
        terms = {"compute": busy, **measured}
        bound = max(terms, key=lambda k: terms[k])  # compute: the unit that runs the layer
        return LayerTiming(int(env.now), int(stats["compute_wait"]), int(stats["load_wait"]),
                           stalls=measured, bound=bound)
