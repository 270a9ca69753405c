"""Timing a streaming pipeline: a closed form and a SimPy model with bounded FIFOs.

Both take the stages of :mod:`.pipeline` and return, for a run of ``batch`` frames, when each
frame leaves the pipeline and each stage's busy, starved and blocked cycles.

* ``analytical``: the interval between frames is the slowest stage's cycles (FINN's
  throughput estimate); one frame's latency is the event model's rules row by row with FIFOs
  that never fill (:func:`row_schedule`) — a lower bound of the event model's — not FINN's
  longest path of whole-stage cycles (which its own code calls very pessimistic; reported
  beside it).
* ``event``: one SimPy process per stage; rows pass through ``simpy.Store`` FIFOs of the
  folding's depth, so back-pressure (a producer blocked on a full FIFO), starvation and the
  pipeline's fill emerge. A stage's output row ``y`` starts when the input rows its window
  needs have arrived; a fully connected stage's first neuron fold runs as its input arrives.
  Events are per row, never per cycle. A pipeline whose FIFOs are too shallow to make progress
  (a residual add waiting on its longer branch) is reported, not left hanging.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import simpy

from simulator.dataflow.pipeline import Edge, Stage
from workloads.errors import InfeasibleError

__all__ = ["ENGINES", "StageTiming", "Timing", "analytical", "event", "fifo_needs",
           "row_schedule"]


@dataclass(frozen=True, slots=True)
class StageTiming:
    """A stage over the run: busy cycles, cycles waiting for input rows (``starved``) and
    for FIFO space downstream (``blocked``), and the most rows any input FIFO held."""

    busy: int
    starved: int = 0
    blocked: int = 0
    fifo_peak: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timing:
    """A run: when each frame left, each stage's account, and the steady-state interval —
    measured over the run's second half when it has several frames, else the slowest
    stage's cycles."""

    done: tuple[int, ...]  # cycle each frame left the pipeline
    stages: dict[str, StageTiming]
    first_out: dict[str, int]  # cycle each stage finished frame 0
    interval: int

    @property
    def latency(self) -> int:
        return self.done[0]

    def first(self, batch: int, frames: int) -> Timing:
        """The account of a run of ``frames`` cut to its first ``batch`` frames (stage cycles
        pro rata; the interval the longer run measured)."""
        scale = batch / frames
        stages = {n: StageTiming(round(t.busy * scale), round(t.starved * scale),
                                 round(t.blocked * scale), t.fifo_peak)
                  for n, t in self.stages.items()}
        return Timing(self.done[:batch], stages, self.first_out, self.interval)


#: Frames the event model streams at least, so a run of one frame has a measured interval.
MIN_EVENT_FRAMES = 4


def _interval(done: list[int] | tuple[int, ...], stages: list[Stage]) -> int:
    n = len(done)
    if n < 2:
        return max(s.cycles for s in stages)
    half = n // 2
    return -(-(done[-1] - done[half - 1]) // (n - half))


def row_schedule(stages: list[Stage]) -> dict[str, tuple[list[int], list[int]]]:
    """One frame's earliest schedule with FIFOs that never fill: for each stage, when it
    starts and when it finishes each output row — the event model's rules (a row waits for
    the input rows its window needs; a vector stage's first fold consumes its input as it
    arrives) without back-pressure, so every time is a lower bound of the event model's."""
    out: dict[str, tuple[list[int], list[int]]] = {}

    def ready(src: str, rows: int) -> int:
        return out[src][1][rows - 1] if rows > 0 else 0

    for st in stages:
        t = 0
        if st.window is None and st.first_fold and st.inputs:
            part = 0
            for k in range(1, st.rows_in + 1):
                t = max(t, *(ready(src, k) for src in st.inputs))
                share = k * st.first_fold // st.rows_in - part
                part += share
                t += share
        starts, ends = [], []
        for y in range(st.rows_out):
            if st.inputs:
                t = max(t, *(ready(src, st.need(y)) for src in st.inputs))
            starts.append(t)
            t += st.row_cycles(y)
            ends.append(t)
        out[st.name] = (starts, ends)
    return out


def fifo_needs(stages: list[Stage], edges: list[Edge]) -> dict[tuple[str, str], int]:
    """The most rows each FIFO holds in :func:`row_schedule` (rows its producer has made but
    its consumer has not yet needed) — how deep a FIFO must be for the pipeline not to wait
    on it, as FINN sizes FIFOs by simulating."""
    sched = row_schedule(stages)
    by_name = {s.name: s for s in stages}
    needs = {}
    for e in edges:
        made = sched[e.src][1]
        dst = by_name[e.dst]
        starts = sched[e.dst][0]
        worst, taken = 1, 0
        for y, t in enumerate(starts):  # just before row y takes its rows
            produced = bisect.bisect_right(made, t)
            worst = max(worst, produced - taken)
            taken = max(taken, dst.need(y))
        needs[(e.src, e.dst)] = worst
    return needs


def analytical(stages: list[Stage], edges: list[Edge], batch: int) -> Timing:
    """The closed form (see the module doc): the latency of :func:`row_schedule` (a lower
    bound of the event model's) and the slowest stage's cycles as the interval."""
    sched = row_schedule(stages)
    interval = max(st.cycles for st in stages)
    latency = sched[stages[-1].name][1][-1]
    done = tuple(latency + i * interval for i in range(batch))
    timings = {st.name: StageTiming(st.cycles * batch) for st in stages}
    return Timing(done, timings, {n: ends[-1] for n, (_, ends) in sched.items()}, interval)


def event(stages: list[Stage], edges: list[Edge], batch: int) -> Timing:
    """The SimPy model (see the module doc)."""
    env = simpy.Environment()
    fifos = {(e.src, e.dst): simpy.Store(env, capacity=e.slots) for e in edges}
    outs: dict[str, list[tuple[str, simpy.Store]]] = {s.name: [] for s in stages}
    for e in edges:
        outs[e.src].append((e.dst, fifos[(e.src, e.dst)]))
    done: list[int] = []
    first: dict[str, int] = {}
    progress = {s.name: 0 for s in stages}  # frames each stage finished
    stats: dict[str, dict[str, float]] = {s.name: {"busy": 0, "starved": 0, "blocked": 0}
                                          for s in stages}
    peak: dict[str, dict[str, int]] = {s.name: {} for s in stages}

    def run(st: Stage) -> Any:
        ins = [(src, fifos[(src, st.name)]) for src in st.inputs]
        s = stats[st.name]
        for frame in range(batch):
            got = [0] * len(ins)
            if st.window is None and st.first_fold and ins:
                # a vector stage: its first neuron fold consumes the input as it arrives
                for j, (_, q) in enumerate(ins):
                    part = 0
                    while got[j] < st.rows_in:
                        t0 = env.now
                        peak[st.name][st.inputs[j]] = max(peak[st.name].get(st.inputs[j], 0),
                                                          len(q.items))
                        yield q.get()
                        s["starved"] += env.now - t0
                        got[j] += 1
                        share = got[j] * st.first_fold // st.rows_in - part
                        part += share
                        yield env.timeout(share)
                        s["busy"] += share
            for y in range(st.rows_out):
                need = st.need(y)
                for j, (src, q) in enumerate(ins):
                    while got[j] < need:
                        t0 = env.now
                        peak[st.name][src] = max(peak[st.name].get(src, 0), len(q.items))
                        yield q.get()
                        s["starved"] += env.now - t0
                        got[j] += 1
                c = st.row_cycles(y)
                yield env.timeout(c)
                s["busy"] += c
                for dst, q in outs[st.name]:
                    t0 = env.now
                    yield q.put(frame)
                    s["blocked"] += env.now - t0
                    held = peak[dst]
                    held[st.name] = max(held.get(st.name, 0), len(q.items))
            for j, (_, q) in enumerate(ins):  # rows no output needed (an odd edge) leave too
                while got[j] < st.rows_in:
                    yield q.get()
                    got[j] += 1
            progress[st.name] += 1
            if frame == 0:
                first[st.name] = int(env.now)
            if not outs[st.name]:
                done.append(int(env.now))

    for st in stages:
        env.process(run(st))
    env.run()
    if len(done) < batch:
        # the stages that could not finish: the first waits on a FIFO its producer cannot fill
        stuck = [st for st in stages if progress[st.name] < batch]
        waiting = next((st for st in stuck if len(st.inputs) > 1), stuck[0])
        depth = min(e.slots for e in edges if e.dst == waiting.name)
        raise InfeasibleError(
            f"the pipeline stalls for good: '{waiting.name}' waits on one input while the "
            f"other's FIFO ({depth} rows) is full; give it a deeper fifo_depth (up to "
            f"{waiting.rows_in} rows)", layer=waiting.name,
            resource=f"folding.layers.{waiting.name}.fifo_depth", needed=waiting.rows_in,
            available=depth, unit="rows")
    timings = {name: StageTiming(int(v["busy"]), int(v["starved"]), int(v["blocked"]),
                                 peak[name]) for name, v in stats.items()}
    return Timing(tuple(done), timings, first, _interval(done, stages))


ENGINES = {"analytical": analytical, "event": event}
