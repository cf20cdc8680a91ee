"""Checkpoints in --train_dir (tf.train.CheckpointManager) and the signal
handler that saves one before the run exits.

A checkpoint holds the model (weights, batch-norm statistics, dropout RNG
state), the optimizer (slots, step count, loss scale), the global step and
the position of the input stream: ``examples_seen``, the records the run has
consumed.  The reader rebuilds its stream at that position (the stream is a
pure function of the seed, see preprocessing/dataset.py), because
tf.distribute's iterators cannot be saved.

Atomicity: TensorFlow writes a checkpoint's data and index files first and
then rewrites the small ``checkpoint`` state file by an atomic rename; a
checkpoint becomes "latest" only once it is complete.  A checkpoint is only
written when every weight is finite, so a diverging run never overwrites the
last good one.  The best-top-1 checkpoint is kept apart in train_dir/best.
"""

import atexit
import json
import os
import shutil
import signal
import tempfile

import tensorflow as tf

from benchmarks.errors import (Interrupted, ResourceError, TrainingError,
                               UsageError)
from benchmarks.paths import check_output
from benchmarks.training import damage

RUN_FILE = "run.json"  # what the checkpoints were trained with
BEST_DIR = "best"
BEST_FILE = "best.json"


def _write_json_atomically(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ResourceError(f"cannot write {path} ({e.strerror}); free space "
                            "there or give another --train_dir") from None


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _rng_states(model):
    """The dropout layers' RNG states, which Keras leaves out of the model's
    checkpointed weights."""
    return [layer.seed_generator.state for layer in model.layers
            if getattr(layer, "seed_generator", None) is not None]


class RunState:
    """Host-side counters saved with the model (plain CPU variables)."""

    def __init__(self):
        with tf.device("/cpu:0"):
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                    name="global_step")
            self.examples_seen = tf.Variable(0, dtype=tf.int64,
                                             trainable=False,
                                             name="examples_seen")
            self.epoch = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                     name="epoch")
            # The step the run ends at: an evaluator following the train_dir
            # stops after this step's checkpoint (0: not known).
            self.last_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                         name="last_step")

    def advance(self, steps, global_batch, examples_per_epoch):
        self.step.assign_add(steps)
        self.examples_seen.assign_add(steps * global_batch)
        self.epoch.assign(int(self.examples_seen.numpy()) / examples_per_epoch)


def checkpoint_contents(model, optimizer, run_state):
    contents = dict(model=model, step=run_state.step,
                    examples_seen=run_state.examples_seen,
                    epoch=run_state.epoch, last_step=run_state.last_step,
                    rng=_rng_states(model))
    if optimizer is not None:
        contents["optimizer"] = optimizer
    return tf.train.Checkpoint(**contents)


def _all_finite(model):
    return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v))
                               for v in model.trainable_variables]))


# Non-chief workers' temporary checkpoint directories.  Process-wide on
# purpose: removed at exit, and by benchmarks/__main__.py before an os._exit
# (a worker that must not wait for its peers), which skips atexit.
_WORKER_DIRS = []


@atexit.register
def remove_worker_dirs():
    while _WORKER_DIRS:
        shutil.rmtree(_WORKER_DIRS.pop(), ignore_errors=True)


class CheckpointStore:
    """Saves and restores a training run in ``train_dir``.

    With several workers every worker saves (a save may all-reduce
    variables), but only the chief into train_dir: the others write to a
    temporary directory, removed at exit, and all restore from train_dir."""

    def __init__(self, train_dir, model, optimizer, run_state, *,
                 max_to_keep=5, identity=None, is_chief=True):
        make_train_dir(train_dir)
        if is_chief:  # what a killed or failed save left behind
            for directory in (train_dir, os.path.join(train_dir, BEST_DIR)):
                remove_stale_temporaries(directory)
        self.train_dir = train_dir
        self.is_chief = is_chief
        write_dir = train_dir
        if not is_chief:
            write_dir = tempfile.mkdtemp(prefix="vggbench-worker-ckpt-")
            _WORKER_DIRS.append(write_dir)
        self.write_dir = write_dir
        self.model = model
        self.run_state = run_state
        self.checkpoint = checkpoint_contents(model, optimizer, run_state)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, write_dir, max_to_keep=max_to_keep,
            checkpoint_name="ckpt", step_counter=run_state.step)
        self.best_manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(write_dir, BEST_DIR), max_to_keep=1,
            checkpoint_name="best", step_counter=run_state.step)
        self.identity = identity or {}

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def restore_latest(self):
        """Restores train_dir's newest good checkpoint if there is one;
        returns (its path, the line saying which damaged ones were passed
        over, or None).  A train_dir written by a different model or batch
        is refused."""
        if damage.newest(self.train_dir) is not None:
            check_identity(self.train_dir, self.identity)

        def restore(path):
            _restore(path, lambda: self.checkpoint.restore(
                path).assert_existing_objects_matched())

        path, note = damage.restore_newest_good(self.train_dir, restore)
        if path is None and self.is_chief:
            _write_json_atomically(os.path.join(self.train_dir, RUN_FILE),
                                   self.identity)
        return path, note

    def save(self):
        """Writes a checkpoint of the current step; TrainingError (and no
        write) if a weight is NaN or Inf."""
        step = int(self.run_state.step.numpy())
        if not _all_finite(self.model):
            last = self.latest or "none"
            raise TrainingError(f"weights are not finite at step {step}; not "
                                f"saved (last good checkpoint: {last}); lower "
                                "--init_learning_rate or set --gradient_clip")
        return self._written(self.manager, step)

    def _written(self, manager, number):
        """manager.save(number); a failed write removes its temporary folder
        and, where the machine is at fault (disk full, no permission), is one
        line naming the directory."""
        try:
            return manager.save(checkpoint_number=number)
        except (tf.errors.OpError, OSError) as e:
            remove_stale_temporaries(manager.directory)
            message = str(getattr(e, "message", e))
            cause = next((c for c in _WRITE_FAILURES if c in message), None)
            if cause is None:
                raise
            raise ResourceError(
                f"{cause.lower()} while saving checkpoint {number} in "
                f"{manager.directory}; {_WRITE_FAILURES[cause]}, then rerun the "
                "same command to resume from the last good checkpoint "
                f"({self.latest or 'none yet'})") from None

    def best_top1(self):
        """(the best top-1 kept so far or None, why best.json was passed
        over or None)."""
        path = os.path.join(self.write_dir, BEST_DIR, BEST_FILE)
        try:
            best = _read_json(path)
            return (None if best is None else float(best["top1"])), None
        except (OSError, ValueError, KeyError, TypeError) as e:
            return None, (f"{path} is damaged ({type(e).__name__}); the best "
                          "checkpoint is kept afresh from this evaluation")

    def save_if_best(self, result):
        """Keeps a copy of the checkpoint with the best eval top-1 so far;
        returns (its path or None, the line about a damaged best.json)."""
        best, note = self.best_top1()
        if best is not None and result.top1 <= best:
            return None, note
        path = self._written(self.best_manager, result.step)
        _write_json_atomically(
            os.path.join(self.write_dir, BEST_DIR, BEST_FILE),
            {"top1": result.top1, "top5": result.top5, "step": result.step,
             "checkpoint": os.path.basename(path)})
        return path, note


# What a failed write says, and what to do about it.
_WRITE_FAILURES = {
    "No space left on device": "free space there (or give another "
                               "--train_dir)",
    "Disk quota exceeded": "free space within your quota there",
    "Permission denied": "make it writable (or give another --train_dir)",
}


def make_train_dir(path):
    """Makes --train_dir; UsageError when it cannot hold checkpoints."""
    check_output(path, "--train_dir")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--train_dir={path} cannot be made ({e.strerror}); "
                         "give a writable directory") from None


def remove_stale_temporaries(directory):
    """Removes the ``*_temp`` folders TensorFlow writes a checkpoint into
    before renaming it (left by a save that was killed or failed), sparing
    anything the directory's checkpoint state names."""
    if not os.path.isdir(directory):
        return []
    state = tf.train.get_checkpoint_state(directory)
    named = {os.path.basename(p) for p in
             (state.all_model_checkpoint_paths if state else ())}
    removed = []
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if entry.endswith("_temp") and os.path.isdir(path) and entry not in named:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def run_identity(config, global_batch):
    """What a train_dir's checkpoints depend on; a resume must match it (an
    evaluation, the model's part: WEIGHT_KEYS)."""
    return {"model": config.model.name, "num_classes": config.model.num_classes,
            "image_size": config.model.image_size, "global_batch": global_batch,
            "tf_random_seed": config.loop.tf_random_seed,
            "precision": config.model.precision}


WEIGHT_KEYS = ("model", "num_classes", "image_size")


def check_identity(train_dir, identity):
    """UsageError when train_dir's run.json says its checkpoints were made
    with other settings than ``identity`` (keys it lacks are not compared:
    a run.json of an earlier version)."""
    if not train_dir:
        return
    path = os.path.join(train_dir, RUN_FILE)
    try:
        saved = _read_json(path)
        if saved is not None and not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} (the settings this train_dir's checkpoints "
                         f"were made with) is damaged ({type(e).__name__}); "
                         "move it away to go on without that check, or use "
                         "a new --train_dir") from None
    if saved is None:
        return
    changed = {k: (saved[k], v) for k, v in identity.items()
               if k in saved and saved[k] != v}
    if changed:
        what = ", ".join(f"{k} {old} -> {new}"
                         for k, (old, new) in sorted(changed.items()))
        raise UsageError(f"--train_dir={train_dir} holds a run with other "
                         f"settings ({what}); use that run's flags or a new "
                         "--train_dir")


def _restore(path, restore):
    """``restore()``; a checkpoint that does not fit the model or optimizer
    is one line, and a damaged one damage.DamagedCheckpoint."""
    try:
        restore()
    except (AssertionError, ValueError, IndexError, tf.errors.OpError) as e:
        problem = damage.checkpoint_problem(path)
        if problem:
            raise damage.DamagedCheckpoint(path, problem) from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise UsageError(f"checkpoint {path} does not fit this run ({first}); "
                         "use the flags it was trained with") from None


def latest_checkpoint(train_dir):
    """train_dir's latest checkpoint (even when the state file that names it
    is damaged), or None."""
    return damage.newest(train_dir)


def resolve_checkpoint(train_dir, name):
    """--checkpoint (a path prefix, or a name in train_dir) or the latest in
    train_dir; UsageError listing what exists when neither is found."""
    if name:
        for candidate in (name, os.path.join(train_dir or "", name)):
            if tf.io.gfile.exists(candidate + ".index"):
                return candidate
        where = train_dir or os.path.dirname(name) or "."
        raise UsageError(f"--checkpoint={name} not found (no {name}.index); "
                         f"available in {where}: {_available(where)}")
    latest = latest_checkpoint(train_dir)
    if latest is None:
        raise UsageError(f"no checkpoint in --train_dir={train_dir}; train "
                         "there first, or name one with --checkpoint")
    return latest


def _available(train_dir):
    paths, _ = damage.candidates(train_dir)
    return ", ".join(os.path.basename(p) for p in paths[::-1]) or "none"


def restore_for_eval(path, model, run_state, identity=None):
    """Weights (and the step) only: evaluation needs no optimizer.
    ``identity``: the run's WEIGHT_KEYS, checked against the checkpoint's
    train_dir's run.json."""
    if identity:
        check_identity(os.path.dirname(path) or ".", identity)
    _restore(path, lambda: checkpoint_contents(
        model, None, run_state).restore(path).expect_partial())


class StopSignals:
    """Turns SIGTERM and SIGINT into a flag the training loop checks between
    calls, so the run can save a checkpoint and exit cleanly; a second signal
    of the same kind is not caught (so two Ctrl-C still stop a stuck run)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        del frame
        self.received = signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False

    def check(self, step, saved_path):
        """Raises Interrupted if a signal arrived (after the caller saved)."""
        if self.received is not None:
            name = signal.Signals(self.received).name
            where = (f"checkpoint {saved_path} saved; rerun the same command "
                     "to resume" if saved_path else "no --train_dir, nothing "
                     "saved")
            raise Interrupted(f"stopped by {name} after step {step}; {where}",
                              self.received)
