"""Timing a streaming pipeline: a closed form and a SimPy model with bounded FIFOs.

Both take the stages of :mod:`.pipeline` and return, for a run of ``batch`` frames, when each
frame leaves the pipeline and each stage's busy, starved and blocked cycles.

* ``analytical``: the interval between frames is the slowest stage's cycles (FINN's
  throughput estimate); one frame's latency is the row-level recurrence with unbounded FIFOs
  — a stage finishes when both its own work and its last input rows allow (``finish =
  max(start + cycles, last input + the rows after it)``), not FINN's sum of every stage's
  cycles (which its own code calls very pessimistic; reported beside it).
* ``event``: one SimPy process per stage; rows pass through ``simpy.Store`` FIFOs of the
  folding's depth, so back-pressure (a producer blocked on a full FIFO), starvation and the
  pipeline's fill emerge. A stage's output row ``y`` starts when the input rows its window
  needs have arrived; a fully connected stage's first neuron fold runs as its input arrives.
  Events are per row, never per cycle. A pipeline whose FIFOs are too shallow to make progress
  (a residual add waiting on its longer branch) is reported, not left hanging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from simulator.dataflow.pipeline import Edge, Stage
from workloads.errors import InfeasibleError

__all__ = ["ENGINES", "StageTiming", "Timing", "analytical", "event"]


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
    stage's cycles (what a longer run would settle to)."""

    done: tuple[int, ...]  # cycle each frame left the pipeline
    stages: dict[str, StageTiming]
    first_out: dict[str, int]  # cycle each stage finished frame 0
    interval: int

    @property
    def latency(self) -> int:
        return self.done[0]


def _interval(done: list[int] | tuple[int, ...], stages: list[Stage]) -> int:
    n = len(done)
    if n < 2:
        return max(s.cycles for s in stages)
    half = n // 2
    return -(-(done[-1] - done[half - 1]) // (n - half))


def _tail(stage: Stage) -> int:
    """Cycles a stage still works after its last input row arrives."""
    if stage.window is None:  # a vector (FC) or a global pool: everything after the input
        return stage.cycles - stage.first_fold
    k, s, p = stage.window
    # output rows whose window reaches the last input row
    first_late = max(0, -(-(stage.rows_in - k + p) // s))
    return sum(stage.row_cycles(y) for y in range(min(first_late, stage.rows_out - 1),
                                                  stage.rows_out))


def analytical(stages: list[Stage], edges: list[Edge], batch: int) -> Timing:
    """The closed form (see the module doc). Every input row is taken to arrive as early as
    its producer could make it (its start plus its rows' own cycles, never waiting for its
    inputs) and FIFOs never fill, so the latency is a lower bound of the event model's."""
    start: dict[str, int] = {}
    finish: dict[str, int] = {}
    by_name = {s.name: s for s in stages}

    def ready(src: Stage, rows: int) -> int:
        """The earliest ``src`` can have produced ``rows`` output rows."""
        if rows >= src.rows_out:
            return finish[src.name]
        return start[src.name] + src.first_fold + rows * (src.cycles - src.first_fold) \
            // src.rows_out

    for st in stages:
        if not st.inputs:
            start[st.name], finish[st.name] = 0, st.cycles
            continue
        first = max(ready(by_name[src], st.need(0)) for src in st.inputs)
        arrived = max(finish[src] for src in st.inputs)
        # a vector stage's first neuron fold runs as its input arrives
        begin = first if st.window is not None else max(first, arrived - st.first_fold)
        start[st.name] = begin
        finish[st.name] = max(begin + st.cycles, arrived + _tail(st))
    interval = max(st.cycles for st in stages)
    latency = finish[stages[-1].name]
    done = tuple(latency + i * interval for i in range(batch))
    timings = {st.name: StageTiming(st.cycles * batch) for st in stages}
    return Timing(done, timings, dict(finish), interval)


def event(stages: list[Stage], edges: list[Edge], batch: int) -> Timing:
    """The SimPy model (see the module doc)."""
    env = simpy.Environment()
    fifos = {(e.src, e.dst): simpy.Store(env, capacity=e.depth) for e in edges}
    outs: dict[str, list[simpy.Store]] = {s.name: [] for s in stages}
    for e in edges:
        outs[e.src].append(fifos[(e.src, e.dst)])
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
                for q in outs[st.name]:
                    t0 = env.now
                    yield q.put(frame)
                    s["blocked"] += env.now - t0
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
        depth = min(e.depth for e in edges if e.dst == waiting.name)
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
