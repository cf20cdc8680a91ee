"""Issue 28's classes of faults, each closed as a class: what a run reads is
checked before step 1 (1), every place a tool writes is checked before it
works (2), a damaged checkpoint never costs the run (3), one train_dir has
one writer (4), and tools take a folder of logs (5).  As in test_faults.py:
one line on stderr, the right exit status, no traceback, every run bounded.
"""

import io
import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO, tiny_config, write_shards
from test_faults import TINY, _env, _one_line, _run

# --- 2 and the scripts' missing inputs: every script in scripts/ ----------

# One row per script: (script, prefix of its error line, arguments with
# {bad_output} where an output goes (None: it writes nothing of the user's),
# arguments with {missing} where an input goes (None: it reads nothing of the
# user's)).  {tree}: a folder that exists and is empty.  Add a row for a new
# script.
SCRIPTS = [
    ("build_imagenet_tfrecords.py", "build_imagenet_tfrecords: error: ",
     ["--train_directory={tree}", "--output_directory={bad_output}"],
     ["--train_directory={missing}", "--output_directory={tree}/out"]),
    ("make_demo_dataset.py", "make_demo_dataset: error: ",
     ["--output_dir={bad_output}"], None),
    ("report.py", "report: error: ",
     ["{tree}", "--output={bad_output}/table.md"], None),
    ("report.py", "report: error: ",
     ["{tree}", "--plot_dir={bad_output}"], None),
    ("launch_multiworker.py", "launch_multiworker: error: ",
     ["--num_workers=1", "--log_dir={bad_output}", "--", "--num_batches=1"],
     None),
    ("bench_input.py", "bench_input: error: ", None,
     ["--data_dir={missing}"]),
    ("bench_vs_keras_fit.py", "bench_vs_keras_fit: error: ", None,
     ["--tf_cnn_benchmarks={missing}"]),
    ("tf_cnn_benchmarks.py", "vggbench: error: ",
     TINY + ["--train_dir={bad_output}"], TINY + ["--data_dir={missing}"]),
    ("tf_cnn_benchmarks.py", "vggbench: error: ",
     TINY + ["--log_path={bad_output}/run.json"], None),
    ("compare.py", "vggbench-compare: error: ",
     ["{tree}", "{tree}", "--plot={bad_output}/gate.png"],
     ["{missing}", "{tree}"]),
    ("ab.py", "vggbench-ab: error: ",
     ["--rounds=1", "--out={bad_output}", "--a=true", "--b=true"], None),
    ("calibrate_compare.py", "calibrate_compare: error: ", None,
     ["{missing}"]),
    ("data_service.py", "data_service: error: ",
     ["--dispatcher_port=1", "--num_workers=1", "--log_dir={bad_output}"],
     None),
    ("bench_data_service.py", "bench_data_service: error: ", None,
     ["--data_dir={missing}"]),
]
# Scripts that neither read nor write a user's path (their output is the
# console): bench_conv_layers.py, bench_step_parts.py, check_bf16_kernels.py,
# flag_docs.py (it rewrites docs pages, whose paths are fixed).
NO_USER_PATHS = {"bench_conv_layers.py", "bench_step_parts.py",
                 "check_bf16_kernels.py", "flag_docs.py"}


def test_every_script_is_in_the_table():
    listed = {row[0] for row in SCRIPTS} | NO_USER_PATHS
    present = {name for name in os.listdir(os.path.join(REPO, "scripts"))
               if name.endswith(".py")}
    assert present <= listed, sorted(present - listed)


def _cases(kind):
    column = 2 if kind == "output" else 3
    return [pytest.param(row[0], row[1], row[column],
                         id=f"{row[0]}-{' '.join(row[column])[:40]}")
            for row in SCRIPTS if row[column] is not None]


def _script(tmp_path, name, prefix, args):
    tree = tmp_path / "tree"
    tree.mkdir()
    blocker = tmp_path / "blocker"  # a file where a folder is needed
    blocker.write_text("keep me")
    fill = dict(tree=tree, bad_output=blocker / "out",
                missing=tmp_path / "missing")
    result = _run([a.format(**fill) for a in args], timeout=120,
                  script=os.path.join(REPO, "scripts", name))
    return result, blocker


@pytest.mark.parametrize("name,prefix,args", _cases("output"))
def test_a_script_refuses_an_output_it_cannot_write(tmp_path, name, prefix,
                                                   args):
    result, blocker = _script(tmp_path, name, prefix, args)
    _one_line(result, 2, f"{blocker}/out", "is a file, not a folder",
              "give a writable", prefix=prefix)
    assert blocker.read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["blocker", "tree"]  # nothing left


@pytest.mark.parametrize("name,prefix,args", _cases("input"))
def test_a_script_refuses_a_missing_input(tmp_path, name, prefix, args):
    result, _ = _script(tmp_path, name, prefix, args)
    _one_line(result, 2, str(tmp_path / "missing"), prefix=prefix)
    assert not os.path.exists(tmp_path / "tree" / "out")


def test_output_paths_are_told_apart(tmp_path):
    from benchmarks.paths import output_problem
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    assert output_problem(str(tmp_path / "new" / "deeper")) is None
    assert output_problem(str(tmp_path / "file")) == "is a file, not a folder"
    assert output_problem(str(tmp_path / "folder"),
                          directory=False) == "is a folder, not a file"
    assert output_problem(str(tmp_path / "file" / "x" / "y")) == (
        f"cannot be made: {tmp_path / 'file'} is a file, not a folder")
    assert not os.path.exists(tmp_path / "new")  # the check makes nothing


# --- 1: what a run reads is checked before step 1 --------------------------

def _bad_entry(directory, kind):
    path = os.path.join(directory, "train-00001-of-00002")
    if kind == "folder":
        os.mkdir(path)
    elif kind == "broken link":
        os.symlink(os.path.join(directory, "gone"), path)
    elif kind == "pipe":
        os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind,says", [
    ("folder", "is a folder, not a file"),
    ("broken link", "is a broken link"),
    ("pipe", "is a special file")])
def test_a_shard_that_is_not_a_readable_file_is_named(tmp_path, kind, says):
    from preprocessing import records
    data = str(tmp_path / "data")
    write_shards(data, "train", [1, 2], num_shards=1)
    os.rename(os.path.join(data, "train-00000-of-00001"),
              os.path.join(data, "train-00000-of-00002"))
    bad = _bad_entry(data, kind)
    with pytest.raises(records.DataError, match=f"input shard {bad} {says}"):
        records.list_shards(data, "train")


def test_a_bad_shard_stops_the_cli_before_training(tmp_path):
    data = str(tmp_path / "data")
    write_shards(data, "train", [1, 2], num_shards=1)
    os.rename(os.path.join(data, "train-00000-of-00001"),
              os.path.join(data, "train-00000-of-00002"))
    bad = _bad_entry(data, "pipe")
    result = _run(TINY + [f"--data_dir={data}"], timeout=120)
    _one_line(result, 2, f"input shard {bad} is a special file",
              "remove it from")
    assert "Step" not in result.stdout  # no training step ran


# --- 3: a damaged checkpoint never costs the run ----------------------------

def _train(train_dir, num_batches, stream=None):
    from benchmarks import config as cfg
    from benchmarks import runner
    stream = stream or io.StringIO()
    runner.run(tiny_config(num_batches=num_batches, display_every=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir),
                                        save_model_steps=2)),
        stream=stream)
    return stream.getvalue()


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A train_dir with ckpt-2 and ckpt-4 (copied per test)."""
    train_dir = tmp_path_factory.mktemp("ckpts") / "td"
    _train(train_dir, 3)  # steps 1..4 (a warmup step, three timed)
    names = sorted(os.listdir(train_dir))
    assert "ckpt-2.index" in names and "ckpt-4.index" in names, names
    return train_dir


def _copy(source, tmp_path):
    import shutil
    target = tmp_path / "td"
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("damaged", ["data", "index", "state"])
def test_resume_falls_back_to_the_newest_good_checkpoint(
        tmp_path, two_checkpoints, damaged):
    train_dir = _copy(two_checkpoints, tmp_path)
    if damaged == "data":
        _truncate(train_dir / "ckpt-4.data-00000-of-00001")
    elif damaged == "index":
        _truncate(train_dir / "ckpt-4.index")
    else:
        (train_dir / "checkpoint").write_text('model_checkpoint_path: "ck')
    out = _train(train_dir, 5)
    if damaged == "state":  # the files are whole: the newest still serves
        assert f"{train_dir}/checkpoint is damaged" in out
        assert f"Resuming from {train_dir}/ckpt-4: step 4 of 6" in out
    else:
        assert f"{train_dir}/ckpt-4 is damaged" in out
        assert f"using {train_dir}/ckpt-2, the newest good checkpoint" in out
        assert f"Resuming from {train_dir}/ckpt-2: step 2 of 6" in out


def test_resume_through_the_cli_says_which_checkpoint_and_why(
        tmp_path, two_checkpoints):
    train_dir = _copy(two_checkpoints, tmp_path)
    _truncate(train_dir / "ckpt-4.data-00000-of-00001")
    result = _run(["--model=vgg11", "--image_size=32", "--num_classes=10",
                   "--batch_size=4", "--num_batches=2", "--display_every=1", "--dropout=0",
                   "--num_warmup_batches=1", "--device=cpu",
                   "--optimizer=momentum", "--init_learning_rate=0.05",
                   f"--train_dir={train_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    notes = [line for line in result.stdout.splitlines()
             if "is damaged" in line]
    assert len(notes) == 1 and "ckpt-4" in notes[0] and "ckpt-2" in notes[0]
    assert f"Resuming from {train_dir}/ckpt-2: step 2 of 3" in result.stdout


def test_evaluation_falls_back_and_a_named_damaged_checkpoint_is_refused(
        tmp_path, two_checkpoints, demo_shards):
    train_dir = _copy(two_checkpoints, tmp_path)
    _truncate(train_dir / "ckpt-4.data-00000-of-00001")
    common = ["--model=vgg11", "--image_size=32", "--num_classes=10",
              "--batch_size=4", "--device=cpu", "--eval", "--dropout=0",
              f"--data_dir={demo_shards}", f"--train_dir={train_dir}"]
    latest = _run(common, timeout=240)
    assert latest.returncode == 0, latest.stderr[-2000:]
    assert f"using {train_dir}/ckpt-2" in latest.stdout
    assert f"Evaluating {train_dir}/ckpt-2 (step 2)" in latest.stdout
    named = _run(common + ["--checkpoint=ckpt-4"], timeout=240)
    _one_line(named, 2, f"checkpoint {train_dir}/ckpt-4 is damaged",
              "data file")


def test_every_checkpoint_damaged_is_refused_not_restarted(
        tmp_path, two_checkpoints):
    from benchmarks.errors import UsageError
    train_dir = _copy(two_checkpoints, tmp_path)
    for step in (2, 4):
        _truncate(train_dir / f"ckpt-{step}.index")
    with pytest.raises(UsageError, match="every checkpoint in .* is damaged"):
        _train(train_dir, 5)


def test_a_damaged_best_json_is_said_and_replaced(tmp_path):
    from benchmarks.training import checkpoints
    store = checkpoints.CheckpointStore.__new__(checkpoints.CheckpointStore)
    store.write_dir = str(tmp_path)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "best.json").write_text('{"top1": 0.')
    best, note = store.best_top1()
    assert best is None and "best.json is damaged" in note


def test_a_damaged_run_json_is_refused_naming_it(tmp_path):
    from benchmarks.errors import UsageError
    from benchmarks.training import checkpoints
    identity = {"model": "vgg11", "batch_size": 4}
    checkpoints.check_identity(str(tmp_path), identity)  # none: no check
    run_json = tmp_path / checkpoints.RUN_FILE
    run_json.write_text(json.dumps(identity))
    checkpoints.check_identity(str(tmp_path), identity)  # the same: fine
    for damaged in ('{"model": "vgg', "[1, 2]"):
        run_json.write_text(damaged)
        with pytest.raises(UsageError, match=f"{run_json} .* is damaged"):
            checkpoints.check_identity(str(tmp_path), identity)
    assert run_json.read_text() == "[1, 2]"  # left as it was


# --- 4: one train_dir, one writer -------------------------------------------

def _lock(train_dir, pid):
    from benchmarks.training.lock import LOCK_FILE
    os.makedirs(train_dir, exist_ok=True)
    path = os.path.join(train_dir, LOCK_FILE)
    with open(path, "w") as f:
        json.dump({"pid": pid, "host": socket.gethostname(),
                   "since": "earlier"}, f)
    return path


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_a_second_run_on_a_train_dir_refuses_naming_the_first(tmp_path):
    train_dir = tmp_path / "td"
    path = _lock(train_dir, os.getpid())  # this test process: alive
    result = _run(TINY + [f"--train_dir={train_dir}"])
    _one_line(result, 2, f"--train_dir={train_dir} is being trained into",
              f"pid {os.getpid()} on {socket.gethostname()}",
              "give another --train_dir")
    assert os.path.exists(path)  # the first run's lock stays
    assert not any(n.startswith("ckpt") for n in os.listdir(train_dir))


def test_a_stale_lock_is_reported_and_taken_over(tmp_path):
    train_dir = tmp_path / "td"
    pid = _dead_pid()
    path = _lock(train_dir, pid)
    result = _run(TINY + [f"--train_dir={train_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    notes = [line for line in result.stdout.splitlines() if "stale lock" in line]
    assert notes == [f"Taking over the stale lock {path}: pid {pid} on "
                     f"{socket.gethostname()} is gone"]
    assert any(n.endswith(".index") for n in os.listdir(train_dir))
    assert not os.path.exists(path)  # released at the end


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    from benchmarks import config as cfg
    from benchmarks import runner
    from benchmarks.errors import VggbenchError
    from benchmarks.training.lock import LOCK_FILE
    train_dir = tmp_path / "td"
    config = tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir)),
        data=cfg.DataConfig(batch_size=4, data_dir=str(tmp_path / "none")))
    with pytest.raises(VggbenchError):
        runner.run(config, stream=io.StringIO())
    assert not os.path.exists(train_dir / LOCK_FILE)


def test_evaluation_takes_no_lock_and_other_workers_neither(tmp_path):
    from benchmarks import runner
    from benchmarks.modes import MODES
    train_dir = tmp_path / "td"
    _lock(train_dir, os.getpid())

    class Worker:  # a multi-worker run's cluster, seen from a task
        def __init__(self, is_chief):
            self.is_chief = is_chief

    from benchmarks import config as cfg
    from benchmarks.errors import UsageError
    config = tiny_config().replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir)))
    for mode, cluster in ((MODES["eval"], None),
                          (MODES["train"], Worker(False))):
        lock = runner._train_dir_lock(config, mode, cluster, io.StringIO())
        with lock:  # a live run's lock is there: these need none
            pass
    for cluster in (None, Worker(True)):  # a training chief needs it
        with pytest.raises(UsageError, match="is being trained into"):
            with runner._train_dir_lock(config, MODES["train"], cluster,
                                        io.StringIO()):
                pass


# --- 5: a folder of logs ----------------------------------------------------

def test_the_report_reads_a_folder_of_logs(tmp_path):
    from benchmarks import runner
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a", "b"):
        runner.run(tiny_config(num_batches=2, log_path=str(logs / f"{name}.json")),
                   stream=io.StringIO())
    (logs / "notes.txt").write_text("not a log\n")
    (logs / "sub").mkdir()
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "report.py"),
         str(logs), "--format=csv"], capture_output=True, text=True,
        env=_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"report: {logs / 'notes.txt'}: not a dllogger log: no 'DLLL {{json}}' "
        "or 'DLL <time> - <step> ...' lines; skipped"]
    rows = result.stdout.strip().splitlines()
    assert len(rows) == 3 and rows[1].startswith("a,") and rows[2].startswith("b,")


def test_the_report_names_a_missing_log_and_goes_on(tmp_path):
    """report.py's inputs are many: a missing one is its own line, status 1,
    and the rest still report (as for any unreadable log)."""
    missing = tmp_path / "missing.json"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "report.py"),
         str(missing)], capture_output=True, text=True, env=_env(), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"report: {missing}: cannot be read (No such file or directory); "
        "skipped"]
