"""Accuracy in the loop: trained once per (network, quantisation, dataset, budget), shared.

Accuracy depends on the network, its quantisation, the dataset and the training budget — not
on the chip — so each distinct combination is trained once, by the torch reference, and kept
in the study's own storage, keyed by a digest of those four. The store is a study named
:data:`STORE` (its user attributes hold the results), so it is shared by every study, worker,
restart and machine using that storage.

Two workers never train the same combination at once: before training, a worker **claims**
the key by creating a study named ``bnnsim-claim:<key>#0`` — the storage refuses a second
study of the same name (a unique constraint on PostgreSQL, the journal's lock on a file), so
exactly one claim succeeds. The claimant beats a heartbeat into its claim while it trains;
the others wait for the result. A claim whose heartbeat stops for :data:`CLAIM_GRACE_S` (its
worker was killed), or that never beat for that long, is taken over by claiming the next
generation (``#1``, …): of several waiters that see the same stale claim, again exactly one
creates the next name. A worker only ever removes its own claim.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import optuna

from explorer.space import TrainSpec

__all__ = ["CLAIM_GRACE_S", "STORE", "AccuracyStore", "trained_accuracy"]

STORE = "bnnsim-accuracies"
CLAIM_PREFIX = "bnnsim-claim:"
HEARTBEAT_S = 2.0
CLAIM_GRACE_S = 30.0


class AccuracyStore:
    """Results and claims in an Optuna storage (see the module doc)."""

    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        self.storage = storage
        self.held: dict[tuple[str, int], int] = {}  # this worker's claims → their study ids
        try:
            self.study = optuna.create_study(storage=storage, study_name=STORE)
        except optuna.exceptions.DuplicatedStudyError:
            self.study = optuna.load_study(storage=storage, study_name=STORE, sampler=None)

    def _attrs(self, study_id: int) -> dict[str, Any]:
        return self.storage.get_study_user_attrs(study_id)

    def get(self, key: str) -> float | None:
        record = self._attrs(self.study._study_id).get(f"acc:{key}")
        return None if record is None else float(record["accuracy"])

    def record(self, key: str) -> dict[str, Any] | None:
        return self._attrs(self.study._study_id).get(f"acc:{key}")

    def put(self, key: str, accuracy: float, meta: Mapping[str, Any]) -> None:
        self.study.set_user_attr(f"acc:{key}", {"accuracy": accuracy, **meta})

    # -- claims: studies named bnnsim-claim:<key>#<generation>; the highest one counts
    def _claims(self, key: str) -> list[tuple[int, int]]:
        """(generation, study id) of every claim on ``key``, oldest first."""
        prefix = f"{CLAIM_PREFIX}{key}#"
        out = []
        for study in self.storage.get_all_studies():
            name = study.study_name
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                out.append((int(name[len(prefix):]), study._study_id))
        return sorted(out)

    def current(self, key: str) -> tuple[int, float | None] | None:
        """The live claim on ``key``: its generation and the value of its last heartbeat
        (None: no claim; a heartbeat of None: its worker has not beaten yet). Heartbeats are
        the claimant's clock: compare them only with each other, never with another
        machine's time."""
        claims = self._claims(key)
        if not claims:
            return None
        gen, sid = claims[-1]
        try:
            beat = self._attrs(sid).get("beat")
        except KeyError:  # (released meanwhile)
            return None
        return gen, None if beat is None else float(beat)

    def claim(self, key: str, generation: int = 0) -> bool:
        """Take the exclusive right to train ``key`` as claim ``generation`` (False: another
        worker created that claim first). Taking over a stale claim is claiming the next
        generation, so of several workers that see the same stale claim exactly one wins."""
        name = f"{CLAIM_PREFIX}{key}#{generation}"
        try:
            study = optuna.create_study(storage=self.storage, study_name=name)
        except optuna.exceptions.DuplicatedStudyError:
            return False
        self.held[(key, generation)] = study._study_id
        try:
            study.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
            study.set_user_attr("beat", time.time())
        except BaseException:
            self.release(key, generation)
            raise
        for gen, sid in self._claims(key):  # the stale ones this claim replaces
            if gen < generation:
                with contextlib.suppress(KeyError):
                    self.storage.delete_study(sid)
        return True

    def beat(self, key: str, generation: int) -> None:
        sid = self.held[(key, generation)]
        self.storage.set_study_user_attr(sid, "beat", time.time())

    def release(self, key: str, generation: int) -> None:
        """Remove this worker's claim ``generation`` — by the study it created, so never a
        claim another worker made later under the same name."""
        sid = self.held.pop((key, generation), None)
        if sid is not None:
            with contextlib.suppress(KeyError):  # (already removed: taken over)
                self.storage.delete_study(sid)


def trained_accuracy(store: AccuracyStore, spec: TrainSpec, network: str, quant: str, *,
                     data_dir: str | None = None, grace_s: float = CLAIM_GRACE_S,
                     poll_s: float = 0.5) -> float:
    """The accuracy (%) of ``network`` at ``quant`` trained by ``spec``: from the store, or
    trained here under a claim, or awaited from the worker that holds the claim. A claim
    whose heartbeat is older than ``grace_s`` — or that never beat, ``grace_s`` after this
    worker first saw it — is taken over by claiming the next generation."""
    key = spec.key(network, quant)
    # a claim is stale when its heartbeat has not changed for grace_s on OUR clock (the
    # claimant's clock may be set differently)
    seen: dict[tuple[int, float | None], float] = {}
    while True:
        value = store.get(key)
        if value is not None:
            return value
        current = store.current(key)
        if current is None:
            generation = 0
        else:
            since = seen.setdefault(current, time.monotonic())
            if time.monotonic() - since <= grace_s:
                time.sleep(poll_s)
                continue
            generation = current[0] + 1  # its worker is gone
        if not store.claim(key, generation):
            time.sleep(poll_s)
            continue
        try:
            value = store.get(key)  # (finished between our look and our claim)
            if value is None:
                value = _train_here(store, key, generation, spec, network, quant, data_dir)
            return value
        finally:
            store.release(key, generation)


def _train_here(store: AccuracyStore, key: str, generation: int, spec: TrainSpec,
                network: str, quant: str, data_dir: str | None) -> float:
    from reference.train import train

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):  # (a storage hiccup: try again next beat)
                store.beat(key, generation)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        result = train(network, _config(quant), spec.dataset, spec.epochs, data_dir=data_dir,
                       batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
                       max_steps=spec.max_steps, progress=False)
    finally:
        stop.set()
        thread.join()
    accuracy = 100.0 * float(result.accuracy)
    # (quant: a compact spec, or "body layer=spec ..." for per-layer choices)
    # a log line per training run (how tests and users see that each key trained once)
    store.study.set_user_attr(f"training:{key}:{socket.gethostname()}:{os.getpid()}",
                              time.time())
    store.put(key, accuracy, {"network": network, "quant": quant, **asdict(spec),
                              "seconds": round(time.perf_counter() - start, 3),
                              "worker": {"host": socket.gethostname(), "pid": os.getpid()}})
    return accuracy


def _config(quant: str) -> Any:
    """The quantisation ``train`` takes for a label: a compact spec, or for
    ``"body layer=spec ..."`` the config with those per-layer overrides."""
    if not quant:
        return None
    body, *layers = quant.split(" ")
    if not layers:
        return body
    from workloads.quant import parse_quant

    return parse_quant({"default": body, "layers": dict(x.split("=", 1) for x in layers)})
