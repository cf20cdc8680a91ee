"""Where a tool writes, checked before it works.  Free of TensorFlow, so a
script refuses a bad output path before its slow imports.

``check_output(path, flag)`` raises UsageError (exit 2) with one line naming
the path and why it cannot be written: a file where a folder is needed, a
folder where a file is needed, no permission, a read-only file system.
Nothing is created by the check itself, so a refused run leaves nothing.
"""

import errno
import os
import tempfile

from benchmarks.errors import UsageError


def _read_only(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _existing_ancestor(path):
    """The nearest part of ``path`` (itself included) that exists."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _probe(directory):
    """Why a file cannot be made in the existing ``directory``, or None."""
    if _read_only(directory):
        return "is on a read-only file system"
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".vggbench-probe-")
    except OSError as e:
        return f"cannot be written ({e.strerror})"
    os.close(fd)
    os.remove(probe)
    return None


def output_problem(path, *, directory=True):
    """Why ``path`` cannot be written, as the end of a sentence that starts
    with the path; None when it can.  ``directory``: the path is a folder
    that will hold files (made if missing), else a file (its folder made)."""
    path = os.path.abspath(path)
    if directory and os.path.exists(path) and not os.path.isdir(path):
        return "is a file, not a folder"
    if not directory and os.path.isdir(path):
        return "is a folder, not a file"
    folder = path if directory else os.path.dirname(path)
    ancestor = _existing_ancestor(folder)
    if not os.path.isdir(ancestor):
        return f"cannot be made: {ancestor} is a file, not a folder"
    problem = _probe(ancestor)
    if problem and ancestor != folder:
        return f"cannot be made: {ancestor} {problem}"
    if (problem is None and not directory and os.path.exists(path)
            and not os.access(path, os.W_OK)):
        return f"cannot be written ({os.strerror(errno.EACCES)})"
    return problem


def check_output(path, flag, *, directory=True):
    """UsageError naming ``flag``=``path`` and why, when it cannot be
    written."""
    problem = output_problem(path, directory=directory)
    if problem:
        kind = "directory" if directory else "file path"
        raise UsageError(f"{flag}={path} {problem}; give a writable {kind}")


def check_input(path, flag, *, directory=False):
    """UsageError when an input ``path`` is missing or of the wrong kind."""
    if not os.path.exists(path):
        raise UsageError(f"{flag}={path} does not exist; give an existing "
                         f"{'directory' if directory else 'file'}")
    if directory and not os.path.isdir(path):
        raise UsageError(f"{flag}={path} is a file, not a directory")
    if not directory and os.path.isdir(path):
        raise UsageError(f"{flag}={path} is a directory, not a file")


def check_run_paths(config):
    """A run's outputs (and its data folder), before TensorFlow starts.
    --eval and --forward_only only read --train_dir; training writes it."""
    outputs = [(config.log.log_path, "--log_path", False),
               (config.log.eval_dir, "--eval_dir", True),
               (config.profile.trace_file, "--trace_file", False),
               (config.profile.tfprof_file, "--tfprof_file", False),
               (config.profile.graph_file, "--graph_file", False)]
    if not (config.eval.eval or config.loop.forward_only):
        outputs.append((config.checkpoint.train_dir, "--train_dir", True))
    for path, flag, directory in outputs:
        if path:
            check_output(path, flag, directory=directory)
    if config.data.data_dir:
        check_input(config.data.data_dir, "--data_dir", directory=True)


def or_exit(parser, check, path, flag, **kw):
    """``check(path, flag, **kw)`` for a script: its UsageError becomes the
    script's one error line (``<script>: error: ...``) and exit status 2."""
    try:
        check(path, flag, **kw)
    except UsageError as e:
        name = os.path.splitext(os.path.basename(parser.prog))[0]
        parser.exit(2, f"{name}: error: {e}\n")
