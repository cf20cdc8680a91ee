"""``--help``: the usage, the flags most runs set, and where the rest are.

The flags' meanings and defaults come from their declarations; this module
only chooses which to show, and in which group.
"""

import textwrap

from benchmarks.flags import all_flags

USAGE = """\
Train, evaluate and benchmark VGG networks with TensorFlow 2.

usage: python -m benchmarks [--flag=value ...]     (or: vggbench, tf_cnn_benchmarks)

  python -m benchmarks --model=vgg16 --batch_size=32 --num_batches=100
  python -m benchmarks --model=vgg16 --data_dir=/data/imagenet --num_gpus=8 \\
      --precision=bf16 --num_epochs=90 --train_dir=ckpt --log_path=vgg16.json
  python -m benchmarks --self_check          what a run here would use, and warnings
"""

COMMON = (
    ("model", ("model", "precision", "xla")),
    ("data", ("data_dir", "batch_size")),
    ("run length", ("num_batches", "num_epochs", "num_warmup_batches")),
    ("devices", ("num_gpus", "device")),
    ("modes", ("forward_only", "eval")),
    ("logs and checkpoints", ("log_path", "display_every", "train_dir")),
    ("this machine", ("self_check",)),
)

MORE = """\
Every flag: --helpfull, or docs/flags.md.  tf_cnn_benchmarks command lines run
unchanged (docs/tf_cnn_benchmarks.md); a recipe: --flagfile=recipes/<name>.flags.
"""


def _default(flag):
    if flag.default in (None, "", []):
        return ""
    value = (str(flag.default).lower() if isinstance(flag.default, bool)
             else flag.default)
    return f" (default {value})"


def help_text():
    flags = {f.name: f for f in all_flags()}
    lines = [USAGE]
    for group, names in COMMON:
        lines.append(f"{group}:")
        for name in names:
            flag = flags[name]
            choices = (f" {{{', '.join(flag.choices)}}}" if flag.choices
                       else "")
            lines.append(f"  --{name}{choices}{_default(flag)}")
            lines.append(textwrap.fill(flag.help, 79, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6))
    lines += ["", MORE]
    return "\n".join(lines)
