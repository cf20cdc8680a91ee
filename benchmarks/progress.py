"""Progress at each display step: the console's row of the progress table,
the JSON log's entry and the TensorBoard scalars, all from the same figures
(the meter's running img/s, the last step's loss, the learning rate and the
windowed training accuracy)."""

from benchmarks.output import console
from benchmarks.output.logger import VERBOSE
from benchmarks.training.optimizers import learning_rate_of


class ProgressReport:
    """The driver's ``on_display`` callback."""

    def __init__(self, mode, meter, *, logger, summaries, start_step=0,
                 optimizer=None, with_accuracy=False, stream=None):
        self.prefix = mode.name
        self.meter = meter
        self.logger = logger
        self.summaries = summaries
        self.start_step = start_step  # steps done before this process
        self.optimizer = optimizer
        self.with_accuracy = with_accuracy
        self.stream = stream

    def __call__(self, progress):
        ips, uncertainty, jitter = self.meter.running()
        lr = learning_rate_of(self.optimizer) if self.optimizer else None
        top1 = progress.top1 if self.with_accuracy else None
        console.print_progress(progress.timed_step, ips, uncertainty, jitter,
                               progress.loss, lr, top1, self.stream)
        p = self.prefix
        entry = {f"{p}.ips": ips, f"{p}.ips_uncertainty": uncertainty,
                 f"{p}.ips_jitter": jitter, f"{p}.loss": progress.loss}
        if lr is not None:
            entry[f"{p}.learning_rate"] = lr
        if top1 is not None:
            entry[f"{p}.top1"] = top1
        step = self.start_step + progress.step
        self.logger.log(step, entry, verbosity=VERBOSE)
        self.summaries.scalars(step, entry)
