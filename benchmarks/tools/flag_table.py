"""README's flag table, made from the flag declarations (benchmarks/flags.py
and compat.py) by scripts/flag_table.py; a test checks README holds it."""

from benchmarks import compat
from benchmarks.flags import all_flags


def _shown_default(flag):
    value = flag.default
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def flag_table_markdown():
    """README's table of every flag: its kind, default and meaning (built:
    the config fields, then the translated tf_cnn_benchmarks flags; then the
    flags with no effect and the refused ones)."""
    rows = [(f, compat.kind_of(f.name)) for f in all_flags()]
    order = (compat.BUILT, compat.NO_EFFECT, compat.REFUSED)
    rows.sort(key=lambda row: order.index(row[1]))
    lines = ["| flag | kind | default | here |", "|---|---|---|---|"]
    for flag, kind in rows:
        note = compat.note_of(flag.name) or flag.help
        lines.append(f"| `--{flag.name}` | {kind} | {_shown_default(flag)} | "
                     f"{note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
