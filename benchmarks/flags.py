"""Command-line flags, named and meant as in tf_cnn_benchmarks where it has the
flag, and their translation into a frozen RunConfig.

Nothing here is written per setting: the flags come from the config fields'
declarations (benchmarks/config/) and from the compatibility flags of
benchmarks/compat.py, which also translates the latter.  Only this module
and benchmarks/__main__.py touch absl flags.
"""

import sys

from absl import flags as absl_flags

from benchmarks import compat
from benchmarks.config import RunConfig, all_settings
from benchmarks.config.settings import Flag
from benchmarks.errors import UsageError

_DEFINE = {
    "string": absl_flags.DEFINE_string,
    "integer": absl_flags.DEFINE_integer,
    "float": absl_flags.DEFINE_float,
    "boolean": absl_flags.DEFINE_boolean,
    "list": absl_flags.DEFINE_list,
}


# Flags that ask for something other than a run; __main__ acts on them
# before a RunConfig is built.
ACTION_FLAGS = (
    Flag("self_check", "boolean", False, "Print what a run on this machine "
         "would use (TensorFlow build, GPUs and their peaks, CPU, oneDNN, "
         "XLA) and what would spoil its figures, then exit: 1 when a run "
         "could not use the machine's GPUs, else 0."),
)


def all_flags():
    """Every flag the runner defines (config settings, compat flags, then
    the action flags)."""
    return ([s.flag for s in all_settings()] + [c.flag for c in compat.FLAGS]
            + list(ACTION_FLAGS))


def _define(flag, fv):
    if flag.flag_type == "enum":
        absl_flags.DEFINE_enum(flag.name, flag.default, list(flag.choices),
                               flag.help, flag_values=fv)
    else:
        _DEFINE[flag.flag_type](flag.name, flag.default, flag.help,
                                flag_values=fv)


def define_flags(fv=absl_flags.FLAGS):
    """Defines every flag on ``fv`` (the global FLAGS unless given)."""
    for flag in all_flags():
        _define(flag, fv)


def flagfiles(argv):
    """The --flagfile paths named on a command line (the recipes used)."""
    found = []
    for i, arg in enumerate(argv):
        if arg.startswith("--flagfile="):
            found.append(arg.split("=", 1)[1])
        elif arg == "--flagfile" and i + 1 < len(argv):
            found.append(argv[i + 1])
    return tuple(found)


def to_config(fv=absl_flags.FLAGS, argv=(), notes=sys.stderr):
    """Translates parsed flags into a validated, frozen RunConfig; ``argv``
    (the command line) names the recipe flagfiles to record.  A flag that
    has no effect here gets one line on ``notes``."""
    values = {s.key: s.parse(fv[s.flag.name].value) for s in all_settings()}
    given = {c.flag.name: fv[c.flag.name].value for c in compat.FLAGS}
    present = {f.name for f in all_flags() if fv[f.name].present}
    values, lines = compat.translate(given, present, values)
    values["log.recipes"] = flagfiles(argv)
    config = RunConfig.from_values(values)
    for line in lines:
        print(f"vggbench: note: {line}", file=notes)
    return config


def parse_command_line(fv, argv):
    """absl's parse of ``argv`` (program name first) into ``fv``; its errors
    (a missing flagfile, an unknown flag, a bad value) as one-line
    UsageErrors, absl's "Did you mean" kept.  Returns absl's leftovers."""
    try:
        return fv(argv)
    except absl_flags.CantOpenFlagFileError as e:
        detail = str(e).split("Unable to open flagfile: ", 1)[-1]
        raise UsageError(f"--flagfile cannot be read: {detail}; give the path "
                         "of a file with one flag per line") from None
    except absl_flags.UnrecognizedFlagError as e:
        where = "" if any(f"--{e.flagname}" in a or f"--no{e.flagname}" in a
                          for a in argv) else " (in a --flagfile)"
        guess = str(e).partition("Did you mean: ")[2].rstrip(" ?")
        hint = f"; did you mean --{guess}?" if guess else ""
        raise UsageError(f"unknown flag --{e.flagname}{where}{hint} (--helpfull "
                         "lists every flag)") from None
    except absl_flags.Error as e:
        raise UsageError(" ".join(str(e).split())) from None


def parse(argv, notes=sys.stderr):
    """Parses ``argv`` (without the program name) on a fresh FlagValues and
    returns the RunConfig.  For tests and scripts; the CLI uses absl.app."""
    fv = absl_flags.FlagValues()
    define_flags(fv)
    parse_command_line(fv, ["vggbench", *argv])
    return to_config(fv, argv, notes)
