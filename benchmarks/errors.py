"""The exceptions a user can cause.  ``benchmarks.__main__`` turns them into a
one-line message and a non-zero exit; nothing else catches broadly."""


class VggbenchError(Exception):
    """Base class: the message is one line that names the problem and the fix."""

    exit_code = 1


class UsageError(VggbenchError):
    """Bad flags or an impossible request (unknown model, too many GPUs, ...)."""

    exit_code = 2


class TrainingError(VggbenchError):
    """The run itself failed, e.g. the loss became NaN or Inf."""

    exit_code = 1


class Interrupted(VggbenchError):
    """SIGTERM or SIGINT: a checkpoint was saved and the run can resume."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.exit_code = 128 + signum  # what the shell reports for the signal


class LostWorker(TrainingError):
    """A peer worker died or never answered.  The process exits at once:
    a normal exit would wait once more for the lost peer at TensorFlow's
    shutdown barrier (another --worker_timeout_secs)."""

    exit_immediately = True


class ResourceError(VggbenchError):
    """The machine ran out of what the run needs (memory, disk space); the
    line names it and what to lower or free."""

    exit_code = 1
