"""Damaged checkpoints: told from checkpoints that do not fit, and passed
over for the newest good one.

A checkpoint is damaged when its index or data file is missing, cut short or
fails its checksums, or when the ``checkpoint`` state file that lists a
folder's checkpoints no longer parses.  Resuming, evaluating the latest and
inference then fall back to the newest checkpoint that restores, and say
which and why on one line; a checkpoint named explicitly is refused instead
(falling back would evaluate something other than what was asked).
"""

import glob
import os
import re

import tensorflow as tf

from benchmarks.errors import UsageError

STATE_FILE = "checkpoint"
_STATE_LINE = re.compile(r'^\w+: ("[^"\n]*"|[-+0-9.eE]+)$')


class DamagedCheckpoint(UsageError):
    """A checkpoint whose files are damaged; the message names the file."""

    def __init__(self, path, problem):
        super().__init__(f"checkpoint {path} is damaged ({problem}); name "
                         "another with --checkpoint, or leave it out for the "
                         "newest good one")
        self.path, self.problem = path, problem


def checkpoint_problem(prefix):
    """What is wrong with the files of checkpoint ``prefix``, or None when
    every tensor reads back whole (checksums included)."""
    if not os.path.exists(prefix + ".index"):
        return f"{prefix}.index is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        return f"{prefix}.index is damaged: {_first_line(e)}"
    try:
        for key in reader.get_variable_to_dtype_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, ValueError, IndexError) as e:
        return f"its data file is damaged: {_first_line(e)}"
    return None


def _first_line(error):
    text = str(getattr(error, "message", error)).strip()
    return (text.splitlines() or [type(error).__name__])[0][:160]


def _number(prefix):
    found = re.search(r"-(\d+)$", prefix)
    return int(found.group(1)) if found else -1


def _read_state(directory):
    """The checkpoint prefixes the state file lists, oldest first; raises
    ValueError when it does not parse."""
    with open(os.path.join(directory, STATE_FILE)) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines or not all(_STATE_LINE.match(line) for line in lines):
        raise ValueError("it does not parse")
    listed = [line.split(": ", 1)[1].strip('"') for line in lines
              if line.startswith("all_model_checkpoint_paths:")]
    latest = [line.split(": ", 1)[1].strip('"') for line in lines
              if line.startswith("model_checkpoint_path:")]
    if not latest:
        raise ValueError("it names no latest checkpoint")
    paths = [p if os.path.isabs(p) else os.path.join(directory, p)
             for p in listed + [x for x in latest if x not in listed]]
    return paths


def candidates(directory):
    """(checkpoint prefixes of ``directory``, newest first; why the state
    file was passed over, or None).  Without a readable state file the
    folder's ``*.index`` files stand in for it."""
    if not directory or not os.path.isdir(directory):
        return [], None
    found = sorted((p[:-len(".index")] for p in
                    glob.glob(os.path.join(directory, "*.index"))),
                   key=_number)
    if not os.path.exists(os.path.join(directory, STATE_FILE)):
        return found[::-1], None
    try:
        listed = _read_state(directory)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or str(e)
        return found[::-1], f"{directory}/{STATE_FILE} is damaged ({why})"
    return listed[::-1], None


def newest(directory):
    """The newest checkpoint prefix of ``directory`` (not checked), or None."""
    paths, _ = candidates(directory)
    return paths[0] if paths else None


def restore_newest_good(directory, restore):
    """``restore(path)`` on the newest checkpoint of ``directory`` that is
    not damaged.  Each is read through before it is restored: a restore that
    fails half-way leaves the model unable to take another checkpoint.
    Returns (path or None when there is none, the one line saying what was
    passed over, or None); UsageError when every checkpoint is damaged."""
    paths, state_problem = candidates(directory)
    passed = [state_problem] if state_problem else []
    for path in paths:
        problem = checkpoint_problem(path)
        if problem:
            passed.append(f"{path} is damaged ({problem})")
            continue
        restore(path)
        note = (f"{'; '.join(passed)}: using {path}, the newest good "
                "checkpoint" if passed else None)
        return path, note
    if paths:
        raise UsageError(f"every checkpoint in {directory} is damaged "
                         f"({'; '.join(passed)}); move them aside to start "
                         "afresh, or give another --train_dir")
    return None, (f"{state_problem}: no checkpoint files beside it"
                  if state_problem else None)
