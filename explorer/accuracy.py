"""Accuracy in the loop: trained once per (network, quantisation, dataset, budget), shared.

Accuracy depends on the network, its quantisation, the dataset and the training budget — not
on the chip — so each distinct combination is trained once, by the torch reference, and kept
in the study's own storage, keyed by a digest of those four. The store is a study named
:data:`STORE` (its user attributes hold the results), so it is shared by every study, worker,
restart and machine using that storage.

Two workers never train the same combination at once: before training, a worker **claims**
the key by creating a study named ``bnnsim-claim:<key>`` — the storage refuses a second study
of the same name (a unique constraint on PostgreSQL, the journal's lock on a file), so exactly
one claim succeeds. The claimant beats a heartbeat into its claim while it trains; the others
wait for the result. A claim whose heartbeat stops for :data:`CLAIM_GRACE_S` (its worker was
killed) is removed, and the next worker claims the key and trains.
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

    def claim(self, key: str) -> bool:
        """Take the exclusive right to train ``key`` (False: another worker holds it)."""
        try:
            study = optuna.create_study(storage=self.storage,
                                        study_name=f"{CLAIM_PREFIX}{key}")
        except optuna.exceptions.DuplicatedStudyError:
            return False
        study.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        study.set_user_attr("beat", time.time())
        return True

    def beat(self, key: str) -> None:
        sid = self.storage.get_study_id_from_name(f"{CLAIM_PREFIX}{key}")
        self.storage.set_study_user_attr(sid, "beat", time.time())

    def claim_age(self, key: str) -> float | None:
        """Seconds since the claim's last heartbeat (None: no claim)."""
        try:
            sid = self.storage.get_study_id_from_name(f"{CLAIM_PREFIX}{key}")
        except KeyError:
            return None
        beat = self._attrs(sid).get("beat")
        return None if beat is None else time.time() - float(beat)

    def release(self, key: str) -> None:
        with contextlib.suppress(KeyError):  # (another worker removed it)
            optuna.delete_study(storage=self.storage, study_name=f"{CLAIM_PREFIX}{key}")


def trained_accuracy(store: AccuracyStore, spec: TrainSpec, network: str, quant: str, *,
                     data_dir: str | None = None, grace_s: float = CLAIM_GRACE_S,
                     poll_s: float = 0.5) -> float:
    """The accuracy (%) of ``network`` at ``quant`` trained by ``spec``: from the store, or
    trained here under a claim, or awaited from the worker that holds the claim."""
    key = spec.key(network, quant)
    while True:
        value = store.get(key)
        if value is not None:
            return value
        if store.claim(key):
            try:
                value = store.get(key)  # (finished between our look and our claim)
                if value is None:
                    value = _train_here(store, key, spec, network, quant, data_dir)
                return value
            finally:
                store.release(key)
        age = store.claim_age(key)
        if age is not None and age > grace_s:
            store.release(key)  # its worker is gone: the next claim trains
            continue
        time.sleep(poll_s)


def _train_here(store: AccuracyStore, key: str, spec: TrainSpec, network: str, quant: str,
                data_dir: str | None) -> float:
    from reference.train import train

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                store.beat(key)
            except Exception:  # the storage is unreachable: the claim will go stale
                return

    # a log line per training run (how tests and users see that each key trained once)
    store.study.set_user_attr(f"training:{key}:{socket.gethostname()}:{os.getpid()}",
                              time.time())
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        result = train(network, quant or None, spec.dataset, spec.epochs, data_dir=data_dir,
                       batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
                       max_steps=spec.max_steps, progress=False)
    finally:
        stop.set()
        thread.join()
    accuracy = 100.0 * float(result.accuracy)
    store.put(key, accuracy, {"network": network, "quant": quant, **asdict(spec),
                              "seconds": round(time.perf_counter() - start, 3),
                              "worker": {"host": socket.gethostname(), "pid": os.getpid()}})
    return accuracy
