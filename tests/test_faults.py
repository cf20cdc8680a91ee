"""The bad inputs and faults a new user meets: each ends with one line on
stderr naming what is at fault and the fix, the right exit status, no
traceback, no hang (every run here has a bound the test enforces), and
nothing left behind."""

import os
import random
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from conftest import REPO, write_shards

TINY = ["--model=vgg11", "--image_size=32", "--num_classes=10",
        "--batch_size=2", "--num_batches=2", "--num_warmup_batches=1",
        "--device=cpu"]


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(args, timeout=180, script=None, cwd=REPO):
    command = ([sys.executable, script] if script
               else [sys.executable, "-m", "benchmarks"])
    return subprocess.run(command + list(args), capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=timeout)


def _one_line(result, status, *fragments, prefix="vggbench: error: "):
    """The run failed with ``status`` and one error line, its last, holding
    every fragment; no traceback."""
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(prefix)]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def _empty_shards(directory, split, count=2):
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        tf.io.TFRecordWriter(os.path.join(
            directory, f"{split}-{i:05d}-of-{count:05d}")).close()


# 1. Shards that hold no record: stops before training, within the bound.
@pytest.mark.parametrize("extra,split", [([], "train"),
                                         (["--forward_only"], "validation")])
def test_shards_without_records_stop_at_once(tmp_path, extra, split):
    _empty_shards(str(tmp_path), split)
    result = _run(TINY + [f"--data_dir={tmp_path}", *extra], timeout=120)
    _one_line(result, 2, f"no records in {tmp_path} ({split}, 2 shards)",
              f"{split}-00000-of-00002", "build_imagenet_tfrecords.py")
    assert "Step\t" not in result.stdout  # no table opened to wait on


def test_records_that_never_decode_stop_after_an_epoch(tmp_path):
    write_shards(str(tmp_path), "train", [1, 2, 3, 4, 5],
                 corrupt={0, 1, 2, 3, 4})
    result = _run(TINY + [f"--data_dir={tmp_path}"], timeout=120)
    _one_line(result, 2, "no image decodes", "5 records in a row",
              "train-00000-of-00001")


# 2. The converter on a tree with no class folders or no images.
@pytest.mark.parametrize("layout", ["empty", "flat", "empty_classes"])
def test_the_converter_refuses_a_tree_without_images(tmp_path, layout):
    tree, out = tmp_path / "tree", tmp_path / "out"
    tree.mkdir()
    if layout == "flat":  # JPEGs, but no class folders
        (tree / "a.JPEG").write_bytes(b"\xff\xd8\xff\xe0")
    if layout == "empty_classes":
        (tree / "n01440764").mkdir()
    result = _run([f"--train_directory={tree}", f"--output_directory={out}"],
                  script=os.path.join(REPO, "scripts",
                                      "build_imagenet_tfrecords.py"))
    _one_line(result, 2, str(tree), "nothing written",
              prefix="build_imagenet_tfrecords: error: ")
    assert not out.exists()


# 3. A model too large for memory.
def test_an_image_size_too_large_for_memory_is_one_line():
    result = _run(["--image_size=100000", "--device=cpu", "--num_batches=1"])
    _one_line(result, 1, "out of memory", "--image_size=100000",
              "--batch_size=64", "lower --batch_size")


# 4. A record without image/encoded.
def test_a_record_without_the_image_names_its_shard(tmp_path):
    path = tmp_path / "train-00000-of-00001"
    label = tf.train.Feature(int64_list=tf.train.Int64List(value=[3]))
    example = tf.train.Example(features=tf.train.Features(
        feature={"image/class/label": label}))
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(4):
            writer.write(example.SerializeToString())
    result = _run(TINY + [f"--data_dir={tmp_path}"])
    _one_line(result, 2, "without image/encoded", str(path),
              "build_imagenet_tfrecords.py")


# 5. --train_dir naming a regular file.
def test_a_train_dir_that_is_a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    result = _run(TINY + [f"--train_dir={path}"])
    _one_line(result, 2, f"--train_dir={path} is a file", "give a writable directory")
    assert path.read_text() == "keep me"


# 6. A malformed --worker_hosts (found before TensorFlow starts).
@pytest.mark.parametrize("hosts,bad", [("h1,h2", "'h1'"),
                                       ("localhost:abc", "'localhost:abc'")])
def test_malformed_worker_hosts(hosts, bad):
    result = _run(TINY + [f"--worker_hosts={hosts}"], timeout=60)
    _one_line(result, 2, "--worker_hosts", bad, "host:port")


# 7. Disk full while saving: a small filesystem of its own where the test can
# mount one (as root), else a save that fails the same way.
def _small_filesystem(path, megabytes):
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o",
                              f"size={megabytes}m", "tmpfs", str(path)],
                             capture_output=True)
    return mounted.returncode == 0


def test_disk_full_while_saving_keeps_the_last_good_checkpoint(tmp_path):
    disk = tmp_path / "disk"
    # One checkpoint of vgg11 at 32x32 (weights and momentum) is ~226 MB.
    if not _small_filesystem(disk, 300):
        pytest.skip("cannot mount a tmpfs here; see the in-process test")
    try:
        train_dir = disk / "train"
        result = _run(TINY + ["--optimizer=momentum", "--save_model_steps=1",
                              f"--train_dir={train_dir}"])
        _one_line(result, 1, "no space left on device while saving "
                  "checkpoint 2", str(train_dir), "free space there",
                  "ckpt-1")
        assert not [n for n in os.listdir(train_dir) if n.endswith("_temp")]
        reader = tf.train.load_checkpoint(str(train_dir))  # the last good one
        assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 1
    finally:  # lazily: a reader of it may not have closed yet
        unmounted = subprocess.run(["umount", "-l", str(disk)],
                                   capture_output=True)
        assert unmounted.returncode == 0, unmounted.stderr


def test_a_failed_save_removes_its_temporary_folder(tmp_path, monkeypatch):
    """In-process, with a write that fails as a full disk does."""
    import io
    from benchmarks import config as cfg
    from benchmarks import runner
    from benchmarks.errors import ResourceError
    from conftest import tiny_config
    original = tf.train.CheckpointManager.save

    def full_after_one(self, checkpoint_number=None, **kwargs):
        if checkpoint_number == 1:
            return original(self, checkpoint_number=checkpoint_number, **kwargs)
        os.makedirs(os.path.join(self.directory, f"ckpt-{checkpoint_number}"
                                 "_temp"), exist_ok=True)
        raise tf.errors.ResourceExhaustedError(
            None, None, "ckpt_temp/part-00000; No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_after_one)
    train_dir = tmp_path / "train"
    config = tiny_config(num_batches=2).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir),
                                        save_model_steps=1))
    with pytest.raises(ResourceError, match="no space left on device"):
        runner.run(config, stream=io.StringIO())
    assert sorted(os.listdir(train_dir)) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index", "run.json"]


# 8. absl's flag errors: one line, exit 2, its suggestion kept.
def test_flag_errors_are_one_line(tmp_path):
    missing = _run([f"--flagfile={tmp_path}/nope.flags"], timeout=60)
    _one_line(missing, 2, "--flagfile cannot be read", "nope.flags")
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("--model=vgg16\n--batchsize=8\n")
    unknown = _run([f"--flagfile={flagfile}"], timeout=60)
    _one_line(unknown, 2, "unknown flag --batchsize (in a --flagfile)",
              "did you mean --batch_size?")
    typo = _run(["--modle=vgg11"], timeout=60)
    _one_line(typo, 2, "unknown flag --modle", "did you mean --model?")
    value = _run(["--batch_size=abc"], timeout=60)
    _one_line(value, 2, "--batch_size=abc")


# 9. A shard with a CRC error but intact framing is named.
def test_a_crc_error_names_the_damaged_shard(tmp_path):
    paths = write_shards(str(tmp_path), "train", list(range(1, 9)),
                         num_shards=2)
    data = bytearray(open(paths[1], "rb").read())
    data[300] ^= 0xFF  # in the first record's image: its framing holds
    open(paths[1], "wb").write(bytes(data))
    result = _run(TINY + [f"--data_dir={tmp_path}"])
    _one_line(result, 2, f"corrupt input shard {paths[1]}", "CRC check",
              "re-create it")


# 10. Leftovers: a killed save's folder, a killed converter's shards.
def test_a_run_removes_what_a_killed_save_left(tmp_path):
    import io
    from benchmarks import config as cfg
    from benchmarks import runner
    from conftest import tiny_config
    train_dir = tmp_path / "train"
    config = tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir)))
    runner.run(config, stream=io.StringIO())  # ckpt-2
    (train_dir / "ckpt-9_temp").mkdir()  # as SIGKILL mid-save leaves it
    (train_dir / "ckpt-9_temp" / "part-00000-of-00001.data").write_bytes(b"x")
    (train_dir / "best").mkdir(exist_ok=True)
    (train_dir / "best" / "best-3_temp").mkdir()
    longer = config.replace(loop=config.loop.__class__(
        num_batches=2, num_warmup_batches=1, display_every=2))
    runner.run(longer, stream=io.StringIO())  # resumes: ckpt-3
    left = sorted(os.listdir(train_dir))
    assert "ckpt-9_temp" not in left and "ckpt-2.index" in left
    assert "ckpt-3.index" in left
    assert "best-3_temp" not in os.listdir(train_dir / "best")


def test_the_converter_removes_a_killed_runs_shards(tmp_path):
    from preprocessing import convert, demo
    tree, out = tmp_path / "tree", tmp_path / "out"
    demo.write_demo_tree(str(tree), train_per_class=1, val_per_class=1)
    out.mkdir()
    stale = out / "train-00000-of-00002.tmp-999999999-1"  # no such process
    stale.write_bytes(b"half a shard")
    result = _run([f"--train_directory={tree}/train",
                   f"--output_directory={out}", "--train_shards=2"],
                  script=os.path.join(REPO, "scripts",
                                      "build_imagenet_tfrecords.py"))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["train-00000-of-00002",
                                       "train-00001-of-00002"]
    assert f"removed {stale}" in result.stdout
    del convert


# Smaller: a --data_dir that is a file; the checkpoints next to a missing one.
def test_a_data_dir_that_is_a_file(tmp_path):
    path = tmp_path / "data.tfrecord"
    path.write_bytes(b"")
    result = _run(TINY + [f"--data_dir={path}"], timeout=60)
    _one_line(result, 2, f"--data_dir={path} is a file, not a directory")


def test_a_missing_checkpoint_lists_its_neighbours(tmp_path):
    from benchmarks.errors import UsageError
    from benchmarks.training import checkpoints
    import io
    from benchmarks import config as cfg
    from benchmarks import runner
    from conftest import tiny_config
    train_dir = tmp_path / "td"
    runner.run(tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir))),
        stream=io.StringIO())
    with pytest.raises(UsageError, match=r"available in .*td: ckpt-2$"):
        checkpoints.resolve_checkpoint(None, str(train_dir / "ckpt-999"))


# The fuzz: byte flips and truncations of a small shard, and images garbled
# inside intact records.  Each case runs the input pipeline (--input_only)
# in one child process under one bound; each reads its records, skipping
# and counting what does not decode, or stops with one line naming the shard.
FUZZ_CHILD = textwrap.dedent("""
    import io, sys
    from benchmarks import config as cfg, runner
    from benchmarks.errors import VggbenchError
    for case, data_dir in enumerate(sys.argv[1:]):
        config = cfg.RunConfig(
            model=cfg.ModelConfig(name="vgg11", num_classes=10, image_size=32),
            dist=cfg.DistConfig(device="cpu"),
            data=cfg.DataConfig(batch_size=2, data_dir=data_dir,
                                datasets_shuffle_buffer_size=4),
            loop=cfg.LoopConfig(input_only=True, num_batches=6,
                                num_warmup_batches=1, display_every=6))
        try:
            final = runner.run(config, stream=io.StringIO())
            print(f"CASE {case} read skipped={final['input.skipped_records']}",
                  flush=True)
        except VggbenchError as e:
            print(f"CASE {case} error {e}", flush=True)
""")


def _fuzzed_shards(root, cases, seed=20261123):
    rng = random.Random(seed)
    base = write_shards(str(root / "base"), "train", list(range(1, 9)))[0]
    data = open(base, "rb").read()
    directories = []
    for case in range(cases):
        directory = root / f"case{case}"
        directory.mkdir()
        path = directory / "train-00000-of-00001"
        kind = case % 3
        if kind == 0:  # flip bytes anywhere: framing, CRCs, payload
            garbled = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                garbled[rng.randrange(len(garbled))] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(garbled))
        elif kind == 1:  # cut the file short
            path.write_bytes(data[:rng.randrange(1, len(data))])
        else:  # garble images inside records that stay intact
            with tf.io.TFRecordWriter(str(path)) as writer:
                for record in tf.data.TFRecordDataset(base).as_numpy_iterator():
                    example = tf.train.Example.FromString(record)
                    image = bytearray(example.features.feature[
                        "image/encoded"].bytes_list.value[0])
                    for _ in range(rng.randint(0, 30)):
                        image[rng.randrange(len(image))] = rng.randrange(256)
                    example.features.feature["image/encoded"].bytes_list.value[
                        0] = bytes(image)
                    writer.write(example.SerializeToString())
        directories.append(str(directory))
    return directories


@pytest.mark.timeout(600)
def test_fuzzed_shards_never_hang_and_never_print_a_traceback(tmp_path):
    directories = _fuzzed_shards(tmp_path, cases=24)
    result = subprocess.run([sys.executable, "-c", FUZZ_CHILD, *directories],
                            capture_output=True, text=True, cwd=REPO,
                            env=_env(), timeout=420)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    outcomes = [line for line in result.stdout.splitlines()
                if line.startswith("CASE ")]
    assert len(outcomes) == len(directories)
    for line, directory in zip(outcomes, directories):
        _, case, kind, detail = line.split(" ", 3)
        if kind == "error":
            assert directory in detail and "\n" not in detail, line
        else:
            assert kind == "read" and detail.startswith("skipped="), line
    kinds = {line.split(" ")[2] for line in outcomes}
    assert kinds == {"read", "error"}  # the fuzz reached both ends


def test_checkpoints_that_do_not_fit_are_one_line(tmp_path, demo_shards):
    train_dir = tmp_path / "td"
    common = ["--model=vgg11", "--image_size=32", "--num_classes=10",
              "--batch_size=2", "--num_warmup_batches=1", "--device=cpu",
              f"--train_dir={train_dir}"]
    first = _run(common + ["--num_batches=1", "--optimizer=momentum"])
    assert first.returncode == 0, first.stderr[-2000:]
    other_optimizer = _run(common + ["--num_batches=3", "--optimizer=adam"])
    _one_line(other_optimizer, 2, f"checkpoint {train_dir}/ckpt-2 does not "
              "fit this run", "use the flags it was trained with")
    other_model = _run(common[1:] + ["--model=vgg13", "--eval",
                                     f"--data_dir={demo_shards}"])
    _one_line(other_model, 2, "holds a run with other settings",
              "model vgg11 -> vgg13")


def test_forward_only_reads_the_train_dirs_weights(tmp_path):
    import io
    from benchmarks import config as cfg
    from benchmarks import runner
    from conftest import tiny_config
    train_dir = str(tmp_path / "td")
    runner.run(tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir)),
        stream=io.StringIO())
    for directory, note in ((train_dir, f"Restored {train_dir}/ckpt-2 (step "
                                        "2) for inference"),
                            (str(tmp_path / "empty"), "No checkpoint in")):
        stream = io.StringIO()
        runner.run(tiny_config(num_batches=1, forward_only=True).replace(
            checkpoint=cfg.CheckpointConfig(train_dir=directory)),
            stream=stream)
        assert note in stream.getvalue()


def test_a_shard_that_cannot_be_written(tmp_path, monkeypatch):
    from preprocessing import convert, demo
    demo.write_demo_tree(str(tmp_path / "tree"), train_per_class=1,
                         val_per_class=1)
    items = convert.list_split(str(tmp_path / "tree" / "train"),
                               [demo.wnid(i) for i in range(10)])

    class FullDisk:
        def __init__(self, path):
            open(path, "wb").close()  # a temporary file starts

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, record):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.io, "TFRecordWriter", FullDisk)
    out = tmp_path / "out"
    with pytest.raises(convert.WriteError, match="No space left on device"):
        convert.write_split(items, str(out), "train", 2, progress=None)
    assert os.listdir(out) == []  # no temporary file, no shard


def test_start_up_noise_is_told_from_the_rest():
    from benchmarks.machine.quiet_start import is_noise
    assert is_noise(b"WARNING: All log messages before absl::InitializeLog() "
                    b"is called are written to STDERR\n")
    assert is_noise(b"I0000 00:00:1795468312.202780   20284 cudart_stub.cc:31]"
                    b" Could not find cuda drivers on your machine\n")
    assert is_noise(b"E0000 00:00:1795468313.761048   20284 cuda_platform.cc:"
                    b"52] failed call to cuInit: INTERNAL: CUDA error\n")
    assert not is_noise(b"E0000 00:00:1.0   1 gpu_device.cc:2] no kernel image\n")
    assert not is_noise(b"Traceback (most recent call last):\n")
