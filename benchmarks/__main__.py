"""Entry point: ``python -m benchmarks [flags]`` or ``vggbench [flags]``
(``--help`` lists the flags most runs set; ``--helpfull`` every one).

absl parses the flags (``--flagfile`` included) once; they become a frozen
RunConfig and nothing below reads them again.  Errors a user can cause end the
run with one line on stderr and a non-zero exit, never a traceback.
"""

import os
import sys

from benchmarks.machine.quiet_start import quiet_start, user_set_log_level

_QUIET = not user_set_log_level()  # the user's level is the user's
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ chatter down

from benchmarks.machine.malloc import tune_glibc_malloc  # noqa: E402

tune_glibc_malloc()  # before TensorFlow allocates anything

from absl import app  # noqa: E402
from absl import flags as absl_flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

from benchmarks import flags  # noqa: E402
from benchmarks.errors import VggbenchError  # noqa: E402
from benchmarks.paths import check_run_paths  # noqa: E402

flags.define_flags()


def _main(argv):
    if len(argv) > 1:
        _fail(f"unexpected arguments {' '.join(argv[1:])!r}; flags are "
              "written --name=value", 2)
    # TF's Python INFO lines (one per checkpoint write) would bury the log.
    absl_logging.set_verbosity(absl_logging.WARNING)
    if absl_flags.FLAGS.self_check:
        with quiet_start(_QUIET):  # TensorFlow's import and device discovery
            import tensorflow as tf
            tf.config.list_physical_devices()
        from benchmarks import self_check
        sys.exit(self_check.main())
    try:
        config = flags.to_config(absl_flags.FLAGS, sys.argv)
        if config.log.flush_stdout:
            sys.stdout.reconfigure(line_buffering=True)
        if config.dist.ps_task:
            print(f"Parameter server task {config.dist.task_index} "
                  "(--job_name=ps): the workers all-reduce their gradients "
                  "(MultiWorkerMirroredStrategy) and need no parameter "
                  "server; nothing to serve, exiting.", flush=True)
            return
        check_run_paths(config)  # before TensorFlow's slow start
        _prepare_environment(config)
        with quiet_start(_QUIET):  # TensorFlow's import and device discovery
            import tensorflow as tf
            from benchmarks import runner  # after the flag checks
            tf.config.list_physical_devices()
        runner.run(config)
    except VggbenchError as e:
        _fail(str(e), e.exit_code, getattr(e, "exit_immediately", False))
    except KeyboardInterrupt:  # (in training, StopSignals saves and stops)
        _fail("interrupted (Ctrl-C) outside the training steps; nothing was "
              "saved", 130)


def _prepare_environment(config):
    """What TensorFlow reads from the environment when it starts."""
    from benchmarks.machine.cpu import configure_onednn
    from benchmarks.machine.runtime_options import set_environment
    configure_onednn(config.dist.onednn)
    set_environment(config.runtime, config.dist)


def _fail(message, code, immediately=False):
    print(f"vggbench: error: {message}", file=sys.stderr)
    # The error is the last word: TensorFlow's warnings as objects are torn
    # down at exit (a half-restored checkpoint's, say) would follow it.
    absl_logging.set_verbosity(absl_logging.ERROR)
    if immediately:
        from benchmarks.training.checkpoints import remove_worker_dirs
        from benchmarks.training.lock import release_all
        remove_worker_dirs()
        release_all()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


HELP_WORDS = ("--help", "-help", "-h", "-?")


def _parse_flags(argv):
    """absl.app's flag parsing, with its errors as our one line, exit 2;
    --help is ours (the flags most runs set), --helpfull absl's (all)."""
    if any(arg in HELP_WORDS for arg in argv[1:]):
        from benchmarks.usage import help_text
        print(help_text())
        sys.exit(0)
    try:
        return flags.parse_command_line(absl_flags.FLAGS, argv)
    except VggbenchError as e:
        _fail(str(e), e.exit_code)


def main():
    # absl's --helpfull opens with the main module's docstring: give it the
    # user's usage text, not this module's notes (a console script's
    # __main__ has none of its own).
    from benchmarks.usage import USAGE
    sys.modules["__main__"].__doc__ = (
        f"{USAGE}\nEvery flag, by the module that declares it (docs/flags.md "
        "has them by section):")
    app.run(_main, flags_parser=_parse_flags)


if __name__ == "__main__":
    main()
