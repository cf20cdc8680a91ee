"""Progress at each display step: the console's row of the progress table,
the JSON log's entry and the TensorBoard scalars, all from the same figures
(the meter's running img/s, the last step's loss, the learning rate and the
training accuracy over the steps since the previous row)."""

from benchmarks.output import console
from benchmarks.output.logger import VERBOSE
from benchmarks.training.optimizers import learning_rate_of


class ProgressReport:
    """The driver's ``on_display`` callback.  The first row comes after
    warmup, so it opens the table ("Done warm up" and its header)."""

    def __init__(self, mode, meter, *, logger, summaries, loop_config,
                 start_step=0, optimizer=None, with_accuracy=False,
                 worker_share=1.0, stream=None):
        self.prefix = mode.name
        self.meter = meter
        # tf_cnn_benchmarks' rows show this worker's images/sec (its
        # replicas' share of the global batch); the JSON log's are global.
        self.worker_share = worker_share
        self.logger = logger
        # TensorBoard gets the displays unless --save_summaries_steps writes
        # its own (training/session.py).
        self.summaries = summaries
        self.ewma = loop_config.display_perf_ewma
        self.loss_type = loop_config.loss_type_to_report
        self.start_step = start_step  # steps done before this process
        self.optimizer = optimizer
        self.with_accuracy = with_accuracy
        self.stream = stream
        self._table_open = False

    def __call__(self, progress):
        if not self._table_open:
            console.print_table_start(self.with_accuracy, self.loss_type,
                                      self.stream)
            self._table_open = True
        ips, uncertainty, jitter = self.meter.running(self.ewma)
        lr = learning_rate_of(self.optimizer) if self.optimizer else None
        shown_loss = (progress.base_loss if self.loss_type == "base_loss"
                      else progress.loss)
        accuracy = ((progress.top1, progress.top5) if self.with_accuracy
                    else (None, None))
        share = self.worker_share
        console.print_progress(progress.timed_step, ips * share,
                               uncertainty * share, jitter * share,
                               shown_loss, *accuracy, stream=self.stream)
        p = self.prefix
        entry = {f"{p}.ips": ips, f"{p}.ips_uncertainty": uncertainty,
                 f"{p}.ips_jitter": jitter, f"{p}.loss": progress.loss,
                 f"{p}.base_loss": progress.base_loss}
        if lr is not None:
            entry[f"{p}.learning_rate"] = lr
        if self.with_accuracy:
            entry[f"{p}.top1"], entry[f"{p}.top5"] = accuracy
        step = self.start_step + progress.step
        self.logger.log(step, entry, verbosity=VERBOSE)
        if self.summaries is not None:
            self.summaries.scalars(step, entry)
