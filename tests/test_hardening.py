"""Hostile input through the real command line: every case exits 2 with one line
``bnnsim <command>: error: …`` (never a traceback, never a hang), and every file that existed
before is byte-identical afterwards (docs/hardening.md lists the surfaces and their limits)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import pickle
import shutil
import signal
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from bnnsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
EDGE = yaml.safe_load((ROOT / "simulator" / "overlay" / "chips" / "edge.yaml").read_text())
TECH = (ROOT / "simulator" / "tech" / "45nm.yaml").read_text()
NET = """name: tiny
input: [3, 16, 16]
layers:
  - {name: conv1, type: conv, out_channels: 16, kernel: 3, padding: 1, quant: w1a8}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: conv2, type: conv, out_channels: 32, kernel: 3, padding: 1}
  - {name: fc, type: fc, out_features: 10}
"""


@contextlib.contextmanager
def deadline(seconds: float = 20.0) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body blocks."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: regular files by content, the rest by kind."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = f"link to {os.readlink(p)}"
        elif p.is_file():
            out[str(p)] = p.read_bytes()
        elif not p.is_dir():
            out[str(p)] = "special"
    return out


def fails(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str) -> str:
    """Run the CLI: exit 2, one error line, nothing under ``folder`` changed, no leftovers."""
    before = snapshot(folder)
    capsys.readouterr()
    with deadline():
        code = main(list(argv))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (code, captured.err)
    assert len(lines) == 1, captured.err
    command = argv[0] if argv[0] in ("simulate", "list", "train", "eval", "summary") else ""
    assert lines[0].startswith(f"bnnsim {command}: error: ".replace(" :", ":")), lines[0]
    assert "Traceback" not in captured.err and "usage:" not in captured.err
    assert snapshot(folder) == before, "a file changed, appeared or vanished"
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder with a chip, a network, a quantisation file, a tech table and an old output."""
    (tmp_path / "chip.yaml").write_text(yaml.safe_dump(EDGE))
    (tmp_path / "net.yaml").write_text(NET)
    (tmp_path / "q.yaml").write_text("default: w1a2\n")
    (tmp_path / "tech.yaml").write_text(TECH)
    (tmp_path / "old.json").write_text('{"precious": true}\n')
    return tmp_path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reference.checkpoint import save_checkpoint
    from reference.models import build_model

    path = tmp_path_factory.mktemp("ckpt") / "sfc.pt"
    return save_checkpoint(build_model("sfc", "w1a1"), path, dataset="synthetic",
                           accuracy=0.5, epochs=1, seed=0)


# --------------------------------------------------------------------------- data loss
@pytest.mark.parametrize("argv", [
    ("simulate", "--chip", "{chip}", "--json", "{chip}"),
    ("simulate", "--network", "{net}", "--csv", "{net}"),
    ("simulate", "--network", "sfc", "--quant", "{q}", "--json", "{q}"),
    ("summary", "--model", "sfc", "--quant", "{q}", "--json", "{q}"),
    ("eval", "{ckpt}", "--json", "{ckpt}"),
    ("simulate", "--network", "{ckpt}", "--json", "{ckpt}"),
    ("train", "--model", "sfc", "--dataset", "synthetic", "--epochs", "1", "--quiet",
     "--out", "{old}", "--json", "{old}"),
    ("simulate", "--network", "sfc", "--json", "{old}", "--csv", "{old}"),
    ("simulate", "--network", "sfc", "--json", "-", "--csv", "-"),
])
def test_an_output_never_overwrites_an_input_or_another_output(capsys, work, checkpoint, argv):
    ckpt = work / "ckpt.pt"
    shutil.copy(checkpoint, ckpt)
    names = {"chip": work / "chip.yaml", "net": work / "net.yaml", "q": work / "q.yaml",
             "ckpt": ckpt, "old": work / "old.json"}
    line = fails(capsys, work, *(a.format(**names) for a in argv))
    assert ("a file this command reads" in line or "also the" in line
            or "already writes to standard output" in line)


def test_an_input_found_while_working_is_protected(capsys, work):
    """The tech table is named inside the chip file: only the read log knows it."""
    chip = dict(EDGE, tech="tech.yaml")
    (work / "chip.yaml").write_text(yaml.safe_dump(chip))
    line = fails(capsys, work, "simulate", "--network", "sfc", "--chip",
                 str(work / "chip.yaml"), "--json", str(work / "tech.yaml"))
    assert "a file this command reads" in line


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_links_to_an_input_are_the_input(capsys, work, link):
    target = work / "alias.yaml"
    (os.link if link == "hard" else os.symlink)(work / "chip.yaml", target)
    fails(capsys, work, "simulate", "--chip", str(work / "chip.yaml"), "--json", str(target))


def test_train_never_writes_onto_its_dataset(capsys, tmp_path):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    images = np.zeros((4, 28, 28), np.uint8)
    for split in ("train", "t10k"):
        (data / f"{split}-images-idx3-ubyte").write_bytes(_idx(images))
        (data / f"{split}-labels-idx1-ubyte").write_bytes(_idx(np.arange(4, dtype=np.uint8)))
    line = fails(capsys, tmp_path, "train", "--model", "lfc", "--dataset", "mnist",
                 "--data-dir", str(tmp_path / "data"), "--epochs", "1", "--quiet",
                 "--out", str(data / "t10k-labels-idx1-ubyte"))
    assert "--out" in line and "reads" in line


def test_a_failed_write_changes_no_output(capsys, work, monkeypatch):
    """The second output cannot be written (a full disk): the first, already staged, is not
    renamed over the user's old file either, and no temporary file is left behind."""
    import workloads.files

    (work / "old.csv").write_text("precious,csv\n")
    real = workloads.files._write_text

    def full_disk(path: Path, text: str) -> None:
        if text.startswith("name,kind"):  # the CSV, staged after the JSON
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)

    monkeypatch.setattr(workloads.files, "_write_text", full_disk)
    line = fails(capsys, work, "simulate", "--network", "sfc", "--json",
                 str(work / "old.json"), "--csv", str(work / "old.csv"))
    assert "No space left on device" in line and "no output was changed" in line


def test_a_failing_command_leaves_its_outputs_alone(capsys, work):
    fails(capsys, work, "simulate", "--network", "no-such-net", "--json", str(work / "old.json"))


def test_outputs_replace_old_files_atomically(capsys, work):
    assert main(["simulate", "--network", "sfc", "--json", str(work / "old.json")]) == 0
    assert json.loads((work / "old.json").read_text())["network"] == "sfc"
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


def test_special_files_are_not_outputs(capsys, work):
    line = fails(capsys, work, "simulate", "--network", "sfc", "--json", "/dev/null")
    assert "not a regular file" in line


# --------------------------------------------------------------------------- special files
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(("what", "argv"), [
    ("chip", ("simulate", "--chip", "{fifo}.yaml")),
    ("network", ("simulate", "--network", "{fifo}.yaml")),
    ("quant", ("simulate", "--network", "sfc", "--quant", "{fifo}.yaml")),
    ("checkpoint", ("eval", "{fifo}.pt")),
    ("checkpoint", ("simulate", "--network", "{fifo}.pt")),
    ("tech", ("simulate", "--network", "sfc", "--chip", "{chip}")),
])
def test_a_fifo_is_refused_without_blocking(capsys, work, what, argv):
    fifo = str(work / "pipe")
    suffix = {"chip": ".yaml", "network": ".yaml", "quant": ".yaml", "checkpoint": ".pt",
              "tech": ".yaml"}[what]
    _fifo(Path(fifo + suffix))
    if what == "tech":
        (work / "chip.yaml").write_text(yaml.safe_dump(dict(EDGE, tech="pipe.yaml")))
    line = fails(capsys, work, *(a.format(fifo=fifo, chip=work / "chip.yaml") for a in argv))
    assert "FIFO" in line


def test_a_checkpoint_quant_entry_naming_a_fifo_is_refused(capsys, work, checkpoint):
    import torch

    _fifo(work / "pipe.yaml")
    raw = torch.load(checkpoint, weights_only=True)
    bad = work / "bad.pt"
    torch.save({**raw, "quant": str(work / "pipe.yaml")}, bad)
    for argv in (("eval", str(bad)), ("simulate", "--network", str(bad))):
        line = fails(capsys, work, *argv)
        assert str(bad) in line and "expected a quantisation mapping" in line


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "character device"),
                                            ("{work}", "directory")])
def test_devices_and_directories_are_refused(capsys, work, path, kind):
    line = fails(capsys, work, "simulate", "--chip", path.format(work=work))
    assert kind in line


# --------------------------------------------------------------------------- bombs
def test_alias_bomb_is_refused(capsys, work):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]")
    (work / "bomb.yaml").write_text("\n".join(lines) + "\n")
    assert "expands to more than" in fails(capsys, work, "simulate", "--chip",
                                           str(work / "bomb.yaml"))


def test_deep_nesting_is_refused(capsys, work):
    (work / "deep.yaml").write_text("a: " + "[" * 990 + "]" * 990 + "\n")
    assert "nested deeper than" in fails(capsys, work, "simulate", "--network",
                                         str(work / "deep.yaml"))


def test_huge_files_are_refused(capsys, work):
    big = work / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(17 * 2**20)
    assert "larger than" in fails(capsys, work, "simulate", "--chip", str(big))


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(("key", "value"), [
    ("buffers.input.size_kib", "1e18"), ("pe_array.rows", "1" + "0" * 400),
    ("clock_mhz", "1e400"), ("clock_mhz", ".nan"), ("dram.latency_ns", "-.inf"),
    ("dram.channels", "2.5"), ("pe_array.rows", "99999999999999999999"),
])
def test_chip_numbers_are_range_checked(capsys, work, key, value):
    line = fails(capsys, work, "simulate", "--network", "sfc", "--set", f"{key}={value}",
                 "--json", str(work / "old.json"))
    assert key in line and len(line) < 400


@pytest.mark.parametrize(("edit", "message"), [
    (("out_channels: 16", "out_channels: " + "9" * 400), "must be an integer in"),
    (("padding: 1, quant", "padding: 1000000000000, quant"), "must be an integer in"),
    (("padding: 1, quant", "padding: 1e12, quant"), "must be an integer in"),
    (("padding: 1, quant", "padding: .nan, quant"), "must be an integer in"),
    (("input: [3, 16, 16]", "input: [3, 1000000000000000000, 16]"), "expected [channels"),
    (("input: [3, 16, 16]", "input: [8192, 65536, 65536]"), "MACs; a layer may have at most"),
])
def test_network_numbers_are_range_checked(capsys, work, edit, message):
    (work / "net.yaml").write_text(NET.replace(*edit))
    assert message in fails(capsys, work, "simulate", "--network", str(work / "net.yaml"))


@pytest.mark.parametrize(("old", "new"), [
    ("energy_pj: 0.03,", "energy_pj: .nan,"), ("energy_pj: 0.03,", "energy_pj: .inf,"),
    ("energy_pj: 0.03,", "energy_pj: -1,"), ("width: 16,", "width: 8,"),
])
def test_tech_numbers_are_checked(capsys, work, old, new):
    (work / "tech.yaml").write_text(TECH.replace(old, new, 1))
    (work / "chip.yaml").write_text(yaml.safe_dump(dict(EDGE, tech="tech.yaml")))
    line = fails(capsys, work, "simulate", "--network", "sfc", "--chip", str(work / "chip.yaml"))
    assert "finite number in" in line or "a second energy_pj" in line


def test_a_layer_too_large_to_count_exactly_is_infeasible(capsys, work):
    # conv1: 2048 → 2048 channels, 3×3, 1024×1024: 4e13 MACs × 256 bit-plane passes (w16a16)
    # on one 1-bit PE is about 1e16 cycles, beyond 2**53
    net = NET.replace("input: [3, 16, 16]", "input: [2048, 1024, 1024]").replace(
        "out_channels: 16", "out_channels: 2048").replace(", quant: w1a8", "")
    (work / "net.yaml").write_text(net)
    line = fails(capsys, work, "simulate", "--network", str(work / "net.yaml"), "--quant",
                 "w16a16", "--set", "pe_array.rows=1", "--set", "pe_array.cols=1",
                 "--set", "pe_array.lane_bits=1", "--set", "full_precision=bit_serial",
                 "--set", "accumulator_bits=64", "--set", "buffers.input.size_kib=1048576",
                 "--set", "buffers.weight.size_kib=1048576",
                 "--set", "buffers.output.size_kib=1048576")
    assert "too large for this chip to simulate exactly" in line


def test_big_legal_layers_do_not_overflow(tmp_path):
    from simulator import apply_overrides, load_chip, simulate
    from workloads import network_from_yaml

    (tmp_path / "net.yaml").write_text(NET.replace("input: [3, 16, 16]",
                                                   "input: [64, 1024, 1024]"))
    # (the 8,388,608-long binary reduction of its fc layer needs a 25-bit accumulator)
    chip = apply_overrides(load_chip("edge"), ["dram.data_rate_mtps=1", "clock_mhz=10000",
                                               "accumulator_bits=32"])
    result = simulate(network_from_yaml(tmp_path / "net.yaml"), chip)
    for x in result.layers:
        assert 0 <= x.details.compute_cycles <= x.cycles <= x.details.serial_cycles
        assert x.details.stall_cycles <= x.cycles and x.dram_bytes > 0
    assert result.latency_cycles < 2**53


def test_json_output_is_strict(work):
    assert main(["simulate", "--network", "cnv", "--engine", "event", "--json",
                 str(work / "r.json")]) == 0

    def refuse(token: str) -> float:
        raise AssertionError(f"non-standard JSON token {token}")

    json.loads((work / "r.json").read_text(), parse_constant=refuse)


@pytest.mark.parametrize(("flag", "value"), [
    ("--epochs", "9" * 400), ("--batch-size", "9" * 400), ("--max-steps", "9" * 400),
    ("--seed", "9" * 400), ("--seed", "-1"), ("--epochs", "0"), ("--epochs", "abc"),
    ("--lr", "1e400"), ("--lr", "nan"), ("--bnnplus-reg", "inf"),
])
def test_numeric_flags_are_one_line(capsys, work, flag, value):
    line = fails(capsys, work, "train", "--model", "sfc", "--dataset", "synthetic", "--epochs",
                 "1", "--out", str(work / "c.pt"), flag, value)
    assert flag in line and "allowed:" in line and len(line) < 300


def test_max_samples_and_unknown_flags_are_one_line(capsys, work, checkpoint):
    fails(capsys, work, "eval", str(checkpoint), "--max-samples", "0")
    fails(capsys, work, "simulate", "--no-such-flag")
    fails(capsys, work, "no-such-command")


def test_a_newline_in_a_key_keeps_one_line(capsys, work):
    (work / "chip.yaml").write_text(yaml.safe_dump({**EDGE, "bad\nkey": 1}))
    fails(capsys, work, "simulate", "--chip", str(work / "chip.yaml"))


# --------------------------------------------------------------------------- checkpoints
def _member_data_offset(path: Path, member: str) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:
                                                   info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def _tamper(checkpoint: Path, folder: Path, how: str) -> Path:
    import torch

    raw = torch.load(checkpoint, weights_only=True)
    state = dict(raw["state_dict"])
    bad = folder / f"{how}.pt"
    if how == "crc":
        shutil.copy(checkpoint, bad)
        with zipfile.ZipFile(bad) as zf:
            member = max(zf.infolist(), key=lambda i: i.file_size).filename
        start, size = _member_data_offset(bad, member)
        data = bytearray(bad.read_bytes())
        data[start + size // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
        return bad
    if how == "other-model":
        raw = {**raw, "model": "lfc"}  # sfc's weights under lfc's name
    elif how == "shape":
        state["fc1.weight"] = torch.zeros(3, 3)
    elif how == "dtype":
        state["fc1.weight"] = state["fc1.weight"].double()
    elif how == "nan":
        state["fc2.weight"] = torch.full_like(state["fc2.weight"], float("nan"))
    elif how == "missing":
        del state["fc3.weight"]
    torch.save({**raw, "state_dict": state}, bad)
    return bad


@pytest.mark.parametrize(("how", "message"), [
    ("crc", "CRC-32"), ("other-model", "does not fit model 'lfc'"),
    ("shape", "fc1.weight is (3, 3), the model has (256, 784)"),
    ("dtype", "dtype: fc1.weight"), ("nan", "non-finite"),
    ("missing", "missing: fc3.weight"),
])
@pytest.mark.parametrize("command", ["eval", "simulate"])
def test_checkpoints_are_verified_before_use(capsys, work, checkpoint, how, message, command):
    bad = _tamper(checkpoint, work, how)
    argv = (("eval", str(bad), "--dataset", "synthetic") if command == "eval"
            else ("simulate", "--network", str(bad)))
    line = fails(capsys, work, *argv)
    assert message in line and str(bad) in line


# --------------------------------------------------------------------------- datasets
def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist(folder: Path, *, images: np.ndarray | None = None,
           labels: np.ndarray | None = None, gz_damage: bool = False) -> Path:
    data = folder / "data" / "mnist"
    data.mkdir(parents=True, exist_ok=True)
    imgs = images if images is not None else np.zeros((8, 28, 28), np.uint8)
    labs = labels if labels is not None else np.arange(len(imgs), dtype=np.uint8) % 10
    for split in ("train", "t10k"):
        blob = gzip.compress(_idx(imgs))
        if gz_damage:
            blob = blob[:20] + bytes(b ^ 0x5A for b in blob[20:60]) + blob[60:]
        (data / f"{split}-images-idx3-ubyte.gz").write_bytes(blob)
        (data / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labs)))
    return folder / "data"


@pytest.mark.parametrize(("kind", "message"), [
    ("gzip", "damaged gzip stream"), ("labels", "outside the 10 classes"),
    ("empty", "empty split"),
])
def test_damaged_datasets_are_one_line(capsys, work, checkpoint, kind, message):
    if kind == "gzip":
        root = _mnist(work, gz_damage=True)
    elif kind == "labels":
        root = _mnist(work, labels=np.array([1, 2, 12, 3], np.uint8),
                      images=np.zeros((4, 28, 28), np.uint8))
    else:
        root = _mnist(work, images=np.zeros((0, 28, 28), np.uint8),
                      labels=np.zeros(0, np.uint8))
    line = fails(capsys, work, "eval", str(checkpoint), "--dataset", "mnist", "--data-dir",
                 str(root))
    assert message in line and str(root) in line


@pytest.fixture(scope="module")
def cnv_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reference.checkpoint import save_checkpoint
    from reference.models import build_model

    path = tmp_path_factory.mktemp("ckpt") / "cnv.pt"
    return save_checkpoint(build_model("cnv", "w1a1"), path, dataset="cifar10", accuracy=None,
                           epochs=1, seed=0)


@pytest.mark.parametrize(("batch", "message"), [
    ({b"data": ["not", "pixels"], b"labels": [0, 1]}, "must be a uint8 array"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]},
     "must be a list of integers"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 11]}, "labels must be 0..9"),
    ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, "empty split"),
    ({b"nothing": 1}, "no b'data'"),
])
def test_cifar_batches_with_wrong_fields_are_one_line(capsys, work, cnv_checkpoint, batch,
                                                      message):
    folder = work / "data" / "cifar10"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    line = fails(capsys, work, "eval", str(cnv_checkpoint), "--data-dir", str(work / "data"))
    assert message in line


# --------------------------------------------------------------------------- found by review
def test_integers_too_long_to_read_are_one_line(capsys, work):
    huge = "9" * 5001
    fails(capsys, work, "simulate", "--network", "sfc", "--set", f"pe_array.rows={huge}")
    (work / "chip.yaml").write_text(yaml.safe_dump(EDGE).replace("rows: 16", f"rows: {huge}"))
    assert "cannot be read" in fails(capsys, work, "simulate", "--chip", str(work / "chip.yaml"))


@pytest.mark.parametrize("name", ["out.json/", "x" * 300, "a\nb.json", "."])
def test_unusable_output_names_fail_before_work(capsys, work, name):
    fails(capsys, work, "simulate", "--network", "sfc", "--json", f"{work}/{name}")


def test_a_long_legal_output_name_is_written(work):
    target = work / ("y" * 250)
    assert main(["simulate", "--network", "sfc", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["network"] == "sfc"


def test_writing_through_a_symlink_keeps_the_link(work):
    os.symlink("old.json", work / "link.json")
    assert main(["simulate", "--network", "sfc", "--json", str(work / "link.json")]) == 0
    assert (work / "link.json").is_symlink()
    assert json.loads((work / "old.json").read_text())["network"] == "sfc"


def _cli(*argv: str, env: dict | None = None, stdout: object = None) -> tuple[int, str]:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "bnnsim", *argv], cwd=ROOT, timeout=120,
                          stdout=stdout if stdout is not None else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})})
    return proc.returncode, proc.stderr


def test_a_full_stdout_is_one_line():
    with open("/dev/full", "w") as full:
        code, err = _cli("list", stdout=full)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("bnnsim list: error: cannot write to standard output")


def test_an_ascii_terminal_gets_escapes_not_a_traceback():
    code, err = _cli("simulate", "--network", "sfc", env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and not err


def test_bytes_that_are_not_utf8_in_a_flag(capsys, work):
    fails(capsys, work, "simulate", "--network", "sfc", "--set", "name=\udcfe")


@pytest.mark.parametrize("how", ["sparse", "running_var", "model_case", "classes"])
def test_more_checkpoints_are_refused(capsys, work, checkpoint, how):
    import torch

    raw = torch.load(checkpoint, weights_only=True)
    state = dict(raw["state_dict"])
    if how == "sparse":
        state["fc2.weight"] = state["fc2.weight"].to_sparse()
    elif how == "running_var":
        state["fc1_bn.running_var"] = -torch.ones_like(state["fc1_bn.running_var"])
    elif how == "model_case":
        raw = {**raw, "model": "SFC"}
    else:
        raw = {**raw, "num_classes": 10_000_000}
    bad = work / f"{how}.pt"
    torch.save({**raw, "state_dict": state}, bad)
    for argv in (("eval", str(bad), "--dataset", "synthetic"), ("simulate", "--network",
                                                                str(bad))):
        assert str(bad) in fails(capsys, work, *argv)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_zip_with_repeated_members_is_refused(capsys, work, checkpoint):
    bad = work / "dup.pt"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(src.infolist()[0], b"again")
    assert "sharing a name" in fails(capsys, work, "eval", str(bad))


def test_more_datasets_are_refused(capsys, work, checkpoint, cnv_checkpoint):
    root = _mnist(work)
    bad = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(bytes([0, 0, 8, 255]) + b"\x00\x00\x00\x01" * 255))
    assert "dimensions" in fails(capsys, work, "eval", str(checkpoint), "--dataset", "mnist",
                                 "--data-dir", str(root))
    folder = work / "data" / "cifar10"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(pickle.dumps(
        {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 2**70]}, protocol=2))
    assert "labels must be 0..9" in fails(capsys, work, "eval", str(cnv_checkpoint),
                                          "--data-dir", str(work / "data"))
    (folder / "test_batch").unlink()
    _fifo(folder / "test_batch")
    assert "FIFO" in fails(capsys, work, "eval", str(cnv_checkpoint), "--data-dir",
                           str(work / "data"))


def test_the_event_engine_refuses_runs_that_would_take_minutes(capsys, work):
    # 262,144 tiles per layer (under the 1,000,000 per layer), 30 layers: 7.9 M in all
    layers = "".join(f"  - {{name: c{i}, type: conv, out_channels: 64, kernel: 3, padding: 1}}\n"
                     for i in range(30))
    (work / "net.yaml").write_text(f"name: deep\ninput: [64, 128, 128]\nlayers:\n{layers}")
    line = fails(capsys, work, "simulate", "--network", str(work / "net.yaml"), "--engine",
                 "event", "--set", "pe_array.rows=1", "--set", "pe_array.cols=1",
                 "--set", "buffers.input.size_kib=0.125", "--set",
                 "buffers.weight.size_kib=0.125", "--set", "buffers.output.size_kib=0.125")
    assert "--engine analytical" in line


@pytest.mark.parametrize(("argv", "message"), [
    (("simulate", "--network", ""), "is empty"),
    (("simulate", "--chip", ""), "is empty"),
    (("simulate", "--network", "sfc", "--engine", ""), "is empty"),
    (("simulate", "--network", "sfc", "--set", 'name="a\\nb"'),
     "printable text on one line"),
    (("simulate", "--network", "sfc", "--set", "pe_array.rows=١٦"), "pe_array.rows"),
])
def test_empty_and_odd_flag_values(capsys, work, argv, message):
    assert message in fails(capsys, work, *argv)


def test_dataset_flag_may_not_be_empty(capsys, work, checkpoint):
    assert "unknown dataset" in fails(capsys, work, "eval", str(checkpoint), "--dataset", "")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("- {name: pool1, type: maxpool, kernel: 2}",
     "- {name: pool1, type: maxpool, kernel: 2, quant: w1a1}", "unknown key"),
    ("name: conv2,", "name: \"conv\\u20282\",", "printable characters"),
])
def test_network_file_details(capsys, work, old, new, message):
    (work / "net.yaml").write_text(NET.replace(old, new))
    assert message in fails(capsys, work, "simulate", "--network", str(work / "net.yaml"))


def test_quant_layers_must_be_a_mapping(capsys, work):
    (work / "q.yaml").write_text("default: w1a2\nlayers: false\n")
    assert "layers" in fails(capsys, work, "simulate", "--network", "sfc", "--quant",
                             str(work / "q.yaml"))


def test_yaml_merge_keys_override(work):
    (work / "chip.yaml").write_text(yaml.safe_dump(EDGE).replace(
        "buffers:\n", "buffers:\n  base: &b {size_kib: 64, port_bits: 1024, "
                      "double_buffered: true}\n", 1).replace("  base: &b", "  _b: &b", 1))
    text = (work / "chip.yaml").read_text()
    text = text.replace("  _b: &b {size_kib: 64, port_bits: 1024, double_buffered: true}\n", "")
    text = "anchors: &b {size_kib: 64, port_bits: 1024, double_buffered: true}\n" + text
    data = yaml.safe_load(text)
    data.pop("anchors")
    # a merge with an override: the explicit size wins, the rest comes from the anchor
    body = yaml.safe_dump(data).replace(
        "  weight:\n    double_buffered: true\n    port_bits: 1024\n    size_kib: 64\n",
        "  weight: {<<: *b, size_kib: 32}\n")
    (work / "chip.yaml").write_text("x: &b {size_kib: 64, port_bits: 1024, "
                                    "double_buffered: true}\n" + body)
    from workloads.files import load_yaml

    assert load_yaml(work / "chip.yaml")["buffers"]["weight"] == {
        "size_kib": 32, "port_bits": 1024, "double_buffered": True}


def test_numeric_strings_in_a_tech_table(work):
    (work / "tech.yaml").write_text(TECH.replace("energy_pj: 0.03,", "energy_pj: 3e-2,", 1))
    chip = dict(EDGE, tech="tech.yaml", dram={**EDGE["dram"], "energy_pj_per_bit": 0})
    (work / "chip.yaml").write_text(yaml.safe_dump(chip))
    assert main(["simulate", "--network", "sfc", "--chip", str(work / "chip.yaml")]) == 0


def test_a_table_of_zero_energies_has_no_efficiency(work, capsys):
    import re

    zero = re.sub(r"energy_pj: [0-9.e-]+", "energy_pj: 0", TECH)
    (work / "tech.yaml").write_text(zero.replace("leakage_mw_per_mm2: 1.0",
                                                 "leakage_mw_per_mm2: 0"))
    chip = dict(EDGE, tech="tech.yaml", dram={**EDGE["dram"], "energy_pj_per_bit": 0})
    (work / "chip.yaml").write_text(yaml.safe_dump(chip))
    assert main(["simulate", "--network", "sfc", "--chip", str(work / "chip.yaml"), "--json",
                 str(work / "r.json")]) == 0
    assert json.loads((work / "r.json").read_text())["total"]["tops_per_w"] is None
    assert "n/a" in capsys.readouterr().out
