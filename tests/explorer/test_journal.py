"""The default storage's journal: one flush to disk per finished trial (not one per record),
and a file Optuna's own journal backend (and so optuna-dashboard) reads unchanged."""

from __future__ import annotations

import os

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import TrialState

from explorer import journal
from explorer.journal import commits
from explorer.space import load_space
from explorer.study import run_study


def test_only_commits_flush():
    op = JournalOperation
    assert not commits({"op_code": op.SET_TRIAL_PARAM})
    assert not commits({"op_code": op.SET_TRIAL_USER_ATTR})
    assert not commits({"op_code": op.SET_TRIAL_SYSTEM_ATTR})
    assert not commits({"op_code": op.CREATE_TRIAL})  # asked: running
    assert not commits({"op_code": op.SET_TRIAL_STATE_VALUES, "state": TrialState.RUNNING})
    for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
        assert commits({"op_code": op.SET_TRIAL_STATE_VALUES, "state": state})
        assert commits({"op_code": op.CREATE_TRIAL, "state": state})  # added finished
    for code in (op.CREATE_STUDY, op.DELETE_STUDY, op.SET_STUDY_USER_ATTR,
                 op.SET_STUDY_SYSTEM_ATTR, op.DISCARD_TRIALS, 99):
        assert commits({"op_code": code})


def test_one_flush_per_trial_and_optuna_reads_it(small_space, tmp_path, monkeypatch):
    flushes = []
    real = os.fsync

    def fsync(fd: int) -> None:
        flushes.append(fd)
        real(fd)

    monkeypatch.setattr(journal.os, "fsync", fsync)
    space = load_space(small_space)
    path = tmp_path / "s.journal"
    run_study(space, trials=6, storage=str(path), study_name="j", sampler="random", seed=0,
              progress=False)
    records = len(path.read_text().splitlines())
    # the study and its attributes, then one flush per finished trial among ~20 records each
    assert records > 6 * 10
    assert 6 <= len(flushes) <= 6 + 6
    ours = optuna.load_study(study_name="j", storage=JournalStorage(
        JournalFileBackend(str(path))))
    done = [t for t in ours.trials if t.state is TrialState.COMPLETE]
    assert len(done) == 6 and all("point" in t.user_attrs for t in done)


def test_a_torn_last_record_is_cut_before_the_next_append(small_space, tmp_path):
    """A crash can leave half a record at the end; the next run must not write after it
    (that would make the journal unreadable) and loses no finished trial."""
    space = load_space(small_space)
    path = tmp_path / "s.journal"
    run_study(space, trials=5, storage=str(path), study_name="t", sampler="random", seed=0,
              progress=False)
    data = path.read_bytes()
    path.write_bytes(data + b'{"op_code":5,"worker_id":"x","trial_id":4,"param_na')
    again = run_study(space, trials=8, storage=str(path), study_name="t", sampler="random",
                      seed=0, progress=False)
    assert again.ran == 3
    assert path.read_bytes().startswith(data) and path.read_bytes().endswith(b"\n")
    done = [t for t in optuna.load_study(study_name="t", storage=JournalStorage(
        JournalFileBackend(str(path)))).trials if t.state is TrialState.COMPLETE]
    assert len(done) == 8


def test_a_trials_records_go_in_few_appends(small_space, tmp_path, monkeypatch):
    """A trial's attributes (and its start: worker and parameters) are appended together:
    a handful of appends a trial, not one per record; the file holds every record."""
    appends = []
    real = journal.CommitSyncedJournal.append_logs

    def append_logs(self, logs):  # type: ignore[no-untyped-def]
        if self._held is None:
            appends.append(len(logs))
        real(self, logs)

    monkeypatch.setattr(journal.CommitSyncedJournal, "append_logs", append_logs)
    space = load_space(small_space)
    path = tmp_path / "s.journal"
    run_study(space, trials=6, storage=str(path), study_name="g", sampler="random", seed=0,
              progress=False)
    trial_appends = appends[-6 * 4:]  # create, start, attributes, finish
    assert max(trial_appends) > 5 and sum(appends) == len(path.read_text().splitlines())
    assert len(appends) < sum(appends) / 3
    ours = optuna.load_study(study_name="g", storage=JournalStorage(
        JournalFileBackend(str(path))))
    done = [t for t in ours.trials if t.state is TrialState.COMPLETE]
    assert len(done) == 6
    assert all({"point", "metrics", "worker"} <= set(t.user_attrs) and t.params for t in done)


def test_records_held_in_a_block_are_written_when_it_ends(tmp_path):
    path = str(tmp_path / "h.journal")
    backend = journal.CommitSyncedJournal(path)
    log = {"op_code": JournalOperation.SET_STUDY_USER_ATTR, "worker_id": "w", "study_id": 0,
           "user_attr": {"k": 1}}
    with backend.together():
        backend.append_logs([log])
        backend.append_logs([log])
        assert list(backend.read_logs(0)) == [] and os.path.getsize(path) == 0
    assert len(list(JournalFileBackend(path).read_logs(0))) == 2


def test_a_block_holds_only_its_own_threads_records(tmp_path):
    import threading

    path = str(tmp_path / "t.journal")
    backend = journal.CommitSyncedJournal(path)
    log = {"op_code": JournalOperation.SET_STUDY_USER_ATTR, "worker_id": "w", "study_id": 0,
           "user_attr": {"k": 1}}
    seen = []

    def other() -> None:  # another thread writes and reads through while the block is open
        backend.append_logs([log])
        seen.append(len(list(backend.read_logs(0))))

    with backend.together():
        backend.append_logs([log])
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert seen == [1] and len(list(backend.read_logs(0))) == 2
