"""A setting is a config field that is also a command-line flag, declared once.

Each field of a config section is declared with one of the functions below,
named after absl's flag types (as tf_cnn_benchmarks names its flags):

    num_classes: int = integer(1000, "Number of output classes.")

The declaration holds the field's default and the flag's help, and where the
two differ, the flag's name and the conversion between the flag's value and
the field's.  benchmarks/flags.py defines the flags and translates their
values into a RunConfig from these declarations alone, so the default a user
gets from the command line is the default of a RunConfig built in Python.

A field declared with plain ``dataclasses.field`` has no flag.
"""

import dataclasses
from dataclasses import dataclass
from typing import Callable

from benchmarks.errors import UsageError


@dataclass(frozen=True)
class Flag:
    """A command-line flag: what absl needs to define it."""

    name: str
    flag_type: str  # string | integer | float | boolean | enum | list
    default: object  # in the flag's own terms (a list of strings for lists)
    help: str
    choices: tuple = ()  # enum only


@dataclass(frozen=True)
class Setting:
    """A config field's flag, and how a flag value becomes the field's."""

    section: str  # the RunConfig attribute: "model", "dist", ...
    field: str
    flag: Flag
    parse: Callable  # flag value -> field value; UsageError if it cannot
    default: object  # the field's default

    @property
    def key(self):
        """The field's name in RunConfig.to_dict() and the PARAMETER log."""
        return f"{self.section}.{self.field}"


def _identity(value):
    return value


def _declare(flag_type, default, help, *, flag=None, choices=(), parse=None,
             to_flag=None):
    spec = dict(flag_type=flag_type, help=help, name=flag,
                choices=tuple(choices), parse=parse or _identity,
                to_flag=to_flag or _identity)
    return dataclasses.field(default=default, metadata={"setting": spec})


def integer(default, help, **kw):
    return _declare("integer", default, help, **kw)


def floating(default, help, **kw):
    return _declare("float", default, help, **kw)


def boolean(default, help, **kw):
    return _declare("boolean", default, help, **kw)


def string(default, help, **kw):
    return _declare("string", default, help, **kw)


def enum(default, choices, help, **kw):
    return _declare("enum", default, help, choices=choices, **kw)


def listing(default, help, *, parse, **kw):
    """A comma-separated list on the command line; a tuple in the config."""
    return _declare("list", default, help, parse=parse,
                    to_flag=kw.pop("to_flag", _as_strings), **kw)


def _as_strings(values):
    return [str(v) for v in values]


def falsy_is_none(value):
    """A parse for flags whose 0 or "" means unset (the field's None)."""
    return value or None


def settings_of(section, section_class):
    """The Settings of one config section, in declaration order."""
    found = []
    for f in dataclasses.fields(section_class):
        spec = f.metadata.get("setting")
        if spec is None:
            continue
        flag = Flag(spec["name"] or f.name, spec["flag_type"],
                    spec["to_flag"](f.default), spec["help"], spec["choices"])
        found.append(Setting(section, f.name, flag, spec["parse"], f.default))
    return found


# Parsers for list and string flags: each raises a UsageError naming the flag.

def numbers(flag, kind=float, separator=None):
    """A parser of a list of numbers (or one string split at ``separator``)."""
    def parse(values):
        if values is None:
            return ()
        if separator is not None:
            values = values.split(separator)
        try:
            return tuple(kind(v) for v in values if str(v).strip())
        except ValueError:
            raise UsageError(f"--{flag} must be a list of numbers (got "
                             f"{values})") from None
    return parse


def number_pair(flag):
    """A parser of ``lo,hi``."""
    def parse(values):
        try:
            return tuple(float(v) for v in values)
        except ValueError:
            raise UsageError(f"--{flag} must be two numbers lo,hi (got "
                             f"{','.join(values)})") from None
    return parse


# Checks the sections run in __post_init__, each a one-line UsageError.

def at_least(name, value, minimum, why=""):
    if not isinstance(value, int) or value < minimum:
        hint = f"; {why}" if why else ""
        raise UsageError(f"--{name} must be an integer >= {minimum} "
                         f"(got {value!r}){hint}")


def optional_at_least(name, value, minimum):
    if value is not None:
        at_least(name, value, minimum)


def one_of(name, value, choices):
    if value not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise UsageError(f"--{name}={value} is not one of: {shown}")


def in_range(name, value, low, high):
    ok = (isinstance(value, tuple) and len(value) == 2
          and low < value[0] <= value[1] <= high)
    if not ok:
        raise UsageError(f"--{name} must be two numbers lo,hi with "
                         f"{low} < lo <= hi <= {high} (got {value!r})")

