"""The cut of a run's steps into calls of the compiled loop: the first call
is one step (trace and compile), warmup ends on a call boundary, and every
display step, and every step after which something happens, ends a call.

Display steps are tf_cnn_benchmarks': the first timed step, then every
--display_every timed steps."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    first_step: int  # 1-based, process-local (the meter's numbering)
    num_steps: int

    @property
    def last_step(self):
        return self.first_step + self.num_steps - 1


def is_display_step(timed_step, display_every):
    """Whether timed step ``timed_step`` (1-based) shows a progress row."""
    return timed_step == 1 or (timed_step > 0
                               and timed_step % display_every == 0)


def _next_display(timed_step, display_every):
    """The first display step after ``timed_step`` (0: none done yet)."""
    if timed_step < 1:
        return 1
    return (timed_step // display_every + 1) * display_every


def plan_chunks(*, num_warmup, num_timed, steps_per_loop, display_every,
                boundaries=()):
    """Splits warmup + timed steps into loop calls.

    The first call is one step (trace and compile), warmup ends on a call
    boundary, every display step ends a call, and so does every step in
    ``boundaries`` (process-local steps after which something happens:
    an evaluation, a checkpoint, an epoch's end).
    """
    if num_warmup < 1:
        raise ValueError("num_warmup must be >= 1: the first step compiles")
    total = num_warmup + num_timed
    stops = sorted(b for b in set(boundaries) if 0 < b < total)
    chunks, step = [], 0
    while step < total:
        if step == 0:
            limit = 1
        elif step < num_warmup:
            limit = num_warmup
        else:
            limit = num_warmup + _next_display(step - num_warmup,
                                               display_every)
        limit = min([limit] + [b for b in stops if b > step])
        n = min(steps_per_loop, limit - step, total - step)
        chunks.append(Chunk(step + 1, n))
        step += n
    return chunks
