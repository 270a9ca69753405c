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

A network runs in one simulation: a layer's span starts when the previous layer's last store
ends. With the chip's ``overlap_layers`` its loader starts earlier, as soon as the previous
layer's loader has issued its last load: its first weight tile takes the next free weight slot
(with double buffering, the one the previous layer's second-to-last weight tile frees) and
loads, contending with the previous layer's traffic on the DRAM, while that layer computes its
last tiles and stores its last outputs; its inputs — that layer's outputs — and everything
else wait for the end.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from simulator.overlay.buffers import TileBuffer
from simulator.overlay.chip import Chip
from simulator.overlay.dram import Dram
from simulator.overlay.engines.base import STALL_CAUSES, Engine, LayerJob, LayerTiming
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
        if trace is not None:  # (the network run places intervals itself)
            layer = Trace(offset=trace.offset, layer=trace.layer, intervals=trace.intervals)
            return self._run([LayerJob(trace.layer, p, mapping, totals)], chip, [layer])[0]
        return self._run([LayerJob(p.name, p, mapping, totals)], chip, None)[0]

    def time_network(self, jobs: Sequence[LayerJob], chip: Chip, *,
                     trace: Trace | None = None) -> list[LayerTiming]:
        traces = (None if trace is None else
                  [Trace(layer=job.name, intervals=trace.intervals) for job in jobs])
        return self._run(jobs, chip, traces)

    def _run(self, jobs: Sequence[LayerJob], chip: Chip,
             traces: list[Trace] | None) -> list[LayerTiming]:
        for job in jobs:
            if job.mapping.tiles > MAX_EVENT_TILES:
                raise ConfigError(f"layer '{job.problem.name}' maps to {job.mapping.tiles:,} "
                                  f"tiles on this chip; the event engine times at most "
                                  f"{MAX_EVENT_TILES:,} per layer — use --engine analytical "
                                  "(or larger buffers)", key="--engine", value=self.name,
                                  has_value=True)
        env = simpy.Environment()
        dram = Dram(env, chip, None)
        bufs = (TileBuffer(env, "weight", chip.weight_buffer),
                TileBuffer(env, "input", chip.input_buffer),
                TileBuffer(env, "output", chip.output_buffer))
        runs: list[_LayerRun] = []
        for k, job in enumerate(jobs):
            prev = runs[-1] if runs else None
            weights_from = None if prev is None else \
                (prev.loads_issued if chip.overlap_layers else prev.done)
            runs.append(_LayerRun(env, dram, bufs, job, region=str(k),
                                  trace=None if traces is None else traces[k],
                                  weights_from=weights_from,
                                  rest_from=None if prev is None else prev.done))
        env.run()
        if any(b.slots.level != b.slots.capacity for b in bufs):
            raise RuntimeError("event engine: buffer slots still held at the end of the run; "
                               "please report")
        timings, start = [], 0
        for run in runs:
            timings.append(run.timing(start))
            start = run.end
        return timings


class _LayerRun:
    """The processes of one layer (see the module doc): ``weights_from`` and ``rest_from``
    are the events its first weight load, and everything else, wait for (None: at once)."""

    def __init__(self, env: simpy.Environment, dram: Dram,
                 bufs: tuple[TileBuffer, TileBuffer, TileBuffer], job: LayerJob, *,
                 region: str, trace: Trace | None, weights_from: simpy.Event | None,
                 rest_from: simpy.Event | None) -> None:
        p = job.problem
        s = build_schedule(p, dram.chip, job.mapping)
        self.env, self.p, self.n = env, p, len(s)
        self.loads_issued, self.done = env.event(), env.event()
        self.stats: dict[str, float] = {"compute_wait": 0, "load_wait": 0, "done": 0,
                                        "stored": 0}
        self.stalls: dict[str, float] = dict.fromkeys(STALL_CAUSES, 0)
        self.busy = int(s.compute_cycles.sum())
        self.stores = int(s.output_done.sum())
        self.marks: dict[str, float] = {}
        self.end = 0
        unit = ComputeUnit(env, p.unit.value, trace)
        ppu = ComputeUnit(env, "ppu", trace)
        wbuf, ibuf, obuf = bufs
        handoff: simpy.Store = simpy.Store(env)
        n = self.n
        new_w, new_i = s.new_weight.tolist(), s.new_input.tolist()
        w_bytes, i_bytes = s.weight_bytes.tolist(), s.input_bytes.tolist()
        psum_in, store = s.psum_load_bytes.tolist(), s.store_bytes.tolist()
        skip = s.skip_bytes.tolist()
        compute, post = s.compute_cycles.tolist(), s.post_cycles.tolist()
        new_out, out_done = s.new_output.tolist(), s.output_done.tolist()
        rel_w, rel_i = s.weight_release.tolist(), s.input_release.tolist()
        stats, stalls, marks = self.stats, self.stalls, self.marks

        def move(nbytes: int, stream: str) -> simpy.Process:
            return env.process(dram.transfer(nbytes, stream, region=region, trace=trace))

        def loader() -> Generator[Any, Any, None]:
            if weights_from is not None:
                yield weights_from
            w_ev = i_ev = None
            for i in range(n):
                waited = 0.0
                if new_w[i]:
                    t0 = env.now
                    yield wbuf.acquire()
                    waited += env.now - t0
                    # a tile of nothing but padding takes a slot but moves no data
                    w_ev = move(w_bytes[i], "weights") if w_bytes[i] else None
                if i == 0 and rest_from is not None:
                    yield rest_from  # the previous layer's outputs are this one's inputs
                if new_i[i]:
                    t0 = env.now
                    yield ibuf.acquire()
                    waited += env.now - t0
                    i_ev = move(i_bytes[i], "inputs") if i_bytes[i] else None
                stats["load_wait"] += waited
                yield handoff.put((w_ev, i_ev))
            self.loads_issued.succeed()

        # Output slots are taken in output order by their own process, ahead of the compute
        # unit and without holding up the operand loads; a tile that continues a reduction
        # gets its partial sums read back (prefetched) as soon as it has its slot.
        slot_ready: dict[int, simpy.Event] = {}
        arrived = {i: env.event() for i in range(n) if new_out[i]}

        def outputs() -> Generator[Any, Any, None]:
            if rest_from is not None:
                yield rest_from
            for i in range(n):
                if not new_out[i]:
                    continue
                yield obuf.acquire()
                slot_ready[i] = move(psum_in[i], "psums") if psum_in[i] else env.timeout(0)
                arrived[i].succeed()

        def writer(i: int, last: bool) -> Generator[Any, Any, None]:
            if skip[i]:  # a fused residual add reads its shortcut first
                yield move(skip[i], "inputs")
            if post[i]:
                yield env.process(ppu.run(post[i], "post"))
            if last:
                marks["post_end"] = env.now
            yield move(store[i], "outputs" if post[i] or p.w_bits == 0 else "psums")
            yield obuf.release()
            stats["stored"] += 1
            if stats["stored"] == self.stores:
                self.end = int(env.now)
                self.done.succeed()

        def computer() -> Generator[Any, Any, None]:
            if rest_from is not None:
                yield rest_from
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
            marks["compute_end"] = env.now

        env.process(loader())
        env.process(outputs())
        env.process(computer())

    def timing(self, start: int) -> LayerTiming:
        """Its span from ``start`` (the previous layer's end) to its last store."""
        stats, stalls, marks = self.stats, dict(self.stalls), self.marks
        if stats["done"] != self.n or stats["stored"] != self.stores:
            raise RuntimeError(f"event engine: layer '{self.p.name}' finished "
                               f"{stats['done']:.0f} of {self.n} tiles and "
                               f"{stats['stored']:.0f} stores; please report")
        # after the last tile: its post-processing, then its store (and any earlier ones)
        end, done = self.end, marks["compute_end"]
        post_end = min(max(marks.get("post_end", done), done), end)
        stalls["ppu"] += post_end - done
        stalls["dram"] += end - post_end
        measured = {k: int(v) for k, v in stalls.items()}
        terms = {"compute": self.busy, **measured}
        bound = max(terms, key=lambda k: terms[k])  # compute: the unit that runs the layer
        return LayerTiming(end - start, int(stats["compute_wait"]), int(stats["load_wait"]),
                           stalls=measured, bound=bound)
