"""Checking a magic's options before anything runs: every value in its range, or one short message.

argparse checks types (``--timeout abc``); this module checks meaning (``--timeout -1``, ``-v 1abc``,
``-i`` together with ``--batch``). Each message names the option and what it accepts, so a typo is
caught before a paid model call, and before the cell binds any name.
"""

from __future__ import annotations

import keyword
import math
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "MAX_PRECISION",
    "check_chain_options",
    "check_chaintime_options",
    "check_variable",
    "wants_help",
]

MAX_PRECISION = 9  # significant digits a duration can be shown with (more is noise, not precision)


def wants_help(argv: list[str]) -> bool:
    """``-h``/``--help`` among the options: show the usage and do nothing else."""
    return "-h" in argv or "--help" in argv


def check_chain_options(args: Any) -> None:
    """The options of ``%%chain``/``%chain``, checked together; raises :class:`UsageError`."""
    if args.input is not None and args.batch is not None:
        raise UsageError("-i and --batch cannot go together: -i is one input, --batch a list")
    if args.store is not None:
        check_variable("-v", args.store)
    _seconds("--timeout", args.timeout)
    _at_least("--max-concurrency", args.max_concurrency, 1)
    if args.model is not None and not args.model.strip():
        raise UsageError("--model needs a model spec, e.g. --model openai:gpt-4o-mini")


def check_chaintime_options(args: Any) -> None:
    """The options of ``%chaintime``, checked together; raises :class:`UsageError`."""
    if args.store is not None:
        check_variable("-v", args.store)
    if args.warmup < 0:  # -n and --max-time: see chainmagic.timing_options
        raise UsageError(f"-w {args.warmup}: give a number of warm-up runs, 0 or more")
    if not 1 <= args.precision <= MAX_PRECISION:
        raise UsageError(
            f"-p {args.precision}: significant digits go from 1 to {MAX_PRECISION} (default 3)"
        )
    if args.model is not None and not args.model.strip():
        raise UsageError("--model needs a model spec, e.g. --model openai:gpt-4o-mini")


def check_variable(option: str, name: str) -> None:
    """A notebook variable to store into: a Python identifier that is not a keyword."""
    if not name.isidentifier() or keyword.iskeyword(name):
        shown = repr(name) if name.strip() else "''"
        raise UsageError(f"{option} {shown}: not a valid variable name, e.g. {option} result")


def _seconds(option: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} {value:g}: a number of seconds above 0, e.g. {option} 30")


def _at_least(option: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise UsageError(f"{option} {value}: must be at least {low}")
