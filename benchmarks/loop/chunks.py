"""The cut of a run's steps into calls of the compiled loop: the first call
is one step (trace and compile), warmup ends on a call boundary, and every
display step, and every step after which something happens, ends a call."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    first_step: int  # 1-based, process-local (the meter's numbering)
    num_steps: int

    @property
    def last_step(self):
        return self.first_step + self.num_steps - 1


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
            timed = step - num_warmup
            next_display = (timed // display_every + 1) * display_every
            limit = num_warmup + next_display
        limit = min([limit] + [b for b in stops if b > step])
        n = min(steps_per_loop, limit - step, total - step)
        chunks.append(Chunk(step + 1, n))
        step += n
    return chunks
