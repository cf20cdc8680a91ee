"""The kinds of run, as one table.

train, infer (--forward_only) and input (--input_only) are benchmarks: a
compiled loop timed step by step.  eval (--eval) evaluates a checkpoint on
the validation split.  A mode's name is the prefix of its metrics (train.*,
infer.*, input.*, eval.*).
"""

from dataclasses import dataclass
from typing import Callable

from benchmarks.evaluation import build_eval_loop
from benchmarks.loop.compiled import (build_infer_loop, build_input_loop,
                                      build_train_loop)
from benchmarks.training.optimizers import l2_loss_factor


def _train_loop(config, setup, optimizer):
    return build_train_loop(
        setup.strategy, setup.model, optimizer,
        global_batch=setup.global_batch,
        weight_decay=l2_loss_factor(config.optimizer), xla=config.loop.xla,
        with_accuracy=config.loop.print_training_accuracy,
        nhwc_to_nchw=setup.nhwc_to_nchw,
        label_smoothing=config.optimizer.label_smoothing,
        single_l2_loss_op=config.optimizer.single_l2_loss_op,
        timed_input=_timed_input(config))


def _infer_loop(config, setup, optimizer):
    del optimizer
    return build_infer_loop(setup.strategy, setup.model,
                            global_batch=setup.global_batch,
                            xla=config.loop.xla,
                            nhwc_to_nchw=setup.nhwc_to_nchw,
                            timed_input=_timed_input(config))


def _input_loop(config, setup, optimizer):
    del optimizer
    return build_input_loop(setup.strategy, _timed_input(config))


def _eval_loop(config, setup, optimizer):
    del config, optimizer
    return build_eval_loop(setup.strategy, setup.model,
                           nhwc_to_nchw=setup.nhwc_to_nchw)


def _timed_input(config):
    """The wait for input is measured with tf.timestamp, which op
    determinism refuses."""
    return not config.loop.deterministic


@dataclass(frozen=True)
class Mode:
    name: str  # the metric prefix
    label: str  # the console header's "Mode:", in tf_cnn_benchmarks' words
    # FLOPs per image as a multiple of one forward pass.  Training counts 3
    # (forward, input gradients, weight gradients), the convention MLPerf and
    # most papers use for achieved FLOP/s.
    flops_multiplier: int
    build_loop: Callable  # (config, setup, optimizer) -> the compiled loop
    accuracy: str  # shown: "always", "on request" (--print_training_accuracy)
    wants_peak: bool  # compared with the device's peak FLOP rate
    split: str  # the split its stream reads from --data_dir

    def shows_accuracy(self, config):
        return self.accuracy == "always" or (
            self.accuracy == "on request"
            and config.loop.print_training_accuracy)


MODES = {mode.name: mode for mode in (
    Mode("train", "training", 3, _train_loop, "on request", True, "train"),
    Mode("infer", "forward only", 1, _infer_loop, "always", True, "validation"),
    Mode("input", "input only", 0, _input_loop, "never", False, "train"),
    Mode("eval", "evaluation", 1, _eval_loop, "always", False, "validation"),
)}


def mode_of(config):
    """The Mode a RunConfig asks for."""
    return MODES["eval" if config.eval.eval else config.loop.prefix]
