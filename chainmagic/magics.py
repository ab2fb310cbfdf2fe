"""The ``%%chain``/``%chain`` magics (and ``%chaintime``): options in, language → run → display out.

This module only wires. Parsing the language is :mod:`chainmagic.dsl`'s job, running is
:mod:`chainmagic.run`'s, drawing is :mod:`chainmagic.display`'s. Problems with what the user typed
(syntax, names, options) become IPython's plain ``UsageError``: one short message, and the cell fails.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, CFloat, CInt, Enum, Unicode

from chainmagic import dsl
from chainmagic.core.runnable import Runnable, coerce
from chainmagic.errors import ChainError, ChainRunError
from chainmagic.inputs import InputError, parse_input
from chainmagic.magic_line import split_line
from chainmagic.targets import chains_after_input, chains_to_time

__all__ = ["ChainMagics"]

_CHAIN_FLAGS = frozenset({
    "-i", "--input", "--batch", "--stream", "--no-stream", "--dry-run", "-o", "-v", "-q",
    "--model", "--timeout", "--max-concurrency", "--to-python", "-h", "--help",
})  # fmt: skip


@magics_class
class ChainMagics(Magics):
    """Compose, run and time LLM chains. Settings: ``%config ChainMagics.<name> = value``."""

    default_model = Unicode(
        "fake:chat", help="Chat model that `model` means in a chain, as 'provider:name'."
    ).tag(config=True)
    stream = Bool(True, help="Stream outputs into the result widget as they arrive.").tag(
        config=True
    )
    timeout = CFloat(0.0, help="Seconds before a run is stopped (0: no limit).").tag(config=True)
    max_concurrency = CInt(0, help="Bound on branches running at once (0: no bound).").tag(
        config=True
    )
    widgets = Enum(
        ["auto", "on", "off"], "auto", help="Show live widgets (auto: when a kernel runs them)."
    ).tag(config=True)
    display_limit = CInt(2000, help="Characters of an output shown before '… N more'.").tag(
        config=True
    )

    @no_var_expand
    @magic_arguments()
    @argument("target", nargs="*", help="chain name (or, for %%chain line form, a pipeline)")
    @argument("-i", "--input", nargs="+", default=None, metavar="VALUE", help="the chain's input")
    @argument("--batch", default=None, metavar="EXPR", help="run on every input of a list")
    @argument("--stream", dest="stream", action="store_true", default=None, help="stream tokens")
    @argument("--no-stream", dest="stream", action="store_false", help="one call, no streaming")
    @argument("--dry-run", action="store_true", help="compile only: the graph and needed inputs")
    @argument("-o", dest="return_result", action="store_true", help="return the ChainResult")
    @argument("-v", dest="store", default=None, metavar="VAR", help="store the result in VAR")
    @argument("-q", dest="quiet", action="store_true", help="no display")
    @argument("--model", default=None, metavar="SPEC", help="default model for this cell")
    @argument("--timeout", type=float, default=None, metavar="S", help="stop after S seconds")
    @argument("--max-concurrency", type=int, default=None, metavar="N", help="bound parallelism")
    @argument("--to-python", action="store_true", help="show the equivalent Python code")
    @line_cell_magic
    def chain(self, line: str, cell: str | None = None) -> Any:
        """Compile a chain written in the chain language, run it, and show the result live.

        Cell form, ``%%chain [NAME] [options]``: the cell is a chain (see the language reference).
        Its ``NAME = ...`` lines are bound in the notebook, and so is the cell's chain when NAME is
        given. With ``-i`` the chain runs and its result shows as a widget; without, its graph.

        Line form: ``%chain NAME [options]`` runs a chain from the notebook;
        ``%chain PIPELINE [options]`` runs a one-line chain.

        Examples::

            %%chain map_chain -i topic=bear
            joke: "tell me a joke about {topic}" | model
            poem: "write a 2-line poem about {topic}" | model

            %chain map_chain -i topic=cat
            %chain "what is {x}?" | model | str -i x=LCEL
            %chain map_chain --batch '[{"topic": "bear"}, {"topic": "cat"}]'
        """
        head, options = split_line(line, _CHAIN_FLAGS)
        args = self._parse(self.chain, options)
        ns = self.shell.user_ns if self.shell is not None else {}
        name, runnable, source = self._resolve(head, cell, args, ns)
        if args.to_python:
            from chainmagic.display import show_python
            from chainmagic.dsl.python import CannotTranslate, to_python

            try:
                code = to_python(runnable, name=name)
            except CannotTranslate as exc:
                raise UsageError(f"--to-python: {exc}") from None
            show_python(code)
            return None
        if args.batch is not None:
            return self._batch(runnable, name, args, ns)
        if args.input is None or args.dry_run:
            if not args.quiet:
                from chainmagic.display import show_graph

                show_graph(
                    runnable.get_graph(), dsl.input_variables(runnable), name, mode=self.widgets
                )
            return None
        try:
            value = parse_input(args.input, ns)
        except InputError as exc:
            raise UsageError(str(exc)) from None
        return self._run(runnable, value, name, source, args, ns)

    @no_var_expand
    @magic_arguments()
    @argument("chains", nargs="*", help="names of chains in the notebook")
    @argument("-i", "--input", nargs="+", default=None, metavar="VALUE", help="the chains' input")
    @argument("-n", "--runs", type=int, default=7, help="measured runs per chain (default 7)")
    @argument("-w", "--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    @argument("--max-time", type=float, default=None, metavar="S", help="stop after S seconds")
    @argument("--baseline", default=None, metavar="NAME", help="compare to this chain")
    @argument("--stat", choices=("median", "mean", "min"), default="median", help="what ranks")
    @argument("--seed", type=int, default=0, help="seed of the run order shuffle")
    @argument("-o", dest="return_result", action="store_true", help="return the TimingResult")
    @argument("-v", dest="store", default=None, metavar="VAR", help="store the result in VAR")
    @argument("-q", dest="quiet", action="store_true", help="no display")
    @argument("-p", dest="precision", type=int, default=3, help="significant digits (default 3)")
    @argument("--model", default=None, metavar="SPEC", help="default model for %%chaintime cells")
    @line_cell_magic
    def chaintime(self, line: str, cell: str | None = None) -> Any:
        """Time several chains on the same input and compare them in one table.

        Line form: ``%chaintime [options] CHAIN [CHAIN ...]`` with chains from the notebook.
        Cell form: ``%%chaintime [options]`` with one chain name, or ``label: pipeline``, per line.

        Runs are interleaved in a shuffled (seeded) order each round, so drift hits every chain
        alike; failed runs are counted apart. Ratios compare each chain to the fastest (or
        ``--baseline``) with a bootstrap interval and a Mann-Whitney test; a parallel map also
        shows how much faster it is than its branches run one after another.

        Examples::

            %chaintime -i topic=bear joke_chain poem_chain map_chain
            %chaintime -n 20 --baseline joke_chain -i topic=bear joke_chain map_chain

            %%chaintime -i topic=bear -n 5
            joke_chain
            short: "one word about {topic}" | model
        """
        args = self._parse(self.chaintime, line)
        ns = self.shell.user_ns if self.shell is not None else {}
        args.input, moved = chains_after_input(args.input, ns)
        default = args.model or self.default_model
        chains = chains_to_time(
            [*args.chains, *moved], cell, ns, lambda text: self._compile(text, ns, default)
        )
        if args.baseline is not None and args.baseline not in chains:
            raise UsageError(f"--baseline {args.baseline}: not one of {', '.join(chains)}")
        if args.runs < 1 or args.warmup < 0:
            raise UsageError("-n needs at least 1 run and -w at least 0")
        if args.input is None:
            raise UsageError("%chaintime needs an input: -i topic=bear")
        try:
            value = parse_input(args.input, ns)
        except InputError as exc:
            raise UsageError(str(exc)) from None
        from chainmagic.display import LiveTiming
        from chainmagic.run.timing import time_chains
        from chainmagic.run.timing_result import TimingResult

        live = None
        if not args.quiet:
            live = LiveTiming(mode=self.widgets, total=args.runs * len(chains))
        try:
            timings, orders, early = time_chains(
                chains,
                value,
                runs=args.runs,
                warmup=args.warmup,
                max_time=args.max_time,
                seed=args.seed,
                on_progress=live.on_progress if live is not None else None,
            )
        except BaseException:  # interrupted: the output says cancelled, never "measuring…"
            if live is not None:
                live.cancel()
            raise
        result = TimingResult(
            timings,
            input=value,
            stat=args.stat,
            baseline=args.baseline,
            orders=orders,
            stopped_early=early,
            runs_requested=args.runs,
            warmup=args.warmup,
            precision=max(1, args.precision),
        )
        return self._deliver(live, result, args, ns)

    # -- steps of a %%chain ---------------------------------------------------------------------

    @staticmethod
    def _deliver(live: Any, obj: Any, args: Any, ns: dict[str, Any]) -> Any:
        """How every run ends: the final display, ``-v VAR`` stored, ``-o`` returned."""
        if live is not None:
            live.finish(obj)
        if args.store:
            ns[args.store] = obj
        return obj if args.return_result else None

    @staticmethod
    def _parse(magic: Any, options: str) -> Any:
        """Options split the way a shell would (quotes removed), parsed by the magic's own parser."""
        try:
            argv = shlex.split(options)
        except ValueError as exc:
            raise UsageError(f"cannot read the options: {exc}") from None
        return magic.parser.parse_args(argv)

    def _resolve(
        self, head: str, cell: str | None, args: Any, ns: dict[str, Any]
    ) -> tuple[str | None, Runnable, str | None]:
        """The chain to run and its name: from the cell, a notebook name, or a one-line pipeline."""
        default = args.model or self.default_model
        if cell is not None:
            name = head or None
            if name is not None and not name.isidentifier():
                raise UsageError(f"%%chain NAME: {name!r} is not a valid name")
            compiled = self._compile(cell, ns, default, first_line=2)
            if compiled.chain is None:
                raise UsageError("the cell holds no chain")
            ns.update(compiled.bindings)
            if name is not None:
                ns[name] = compiled.chain
            return name or compiled.chain_name, compiled.chain, cell
        if not head:
            raise UsageError("%chain needs a chain: %chain NAME -i ... or %chain PIPELINE -i ...")
        if head.isidentifier() and head in ns:
            try:
                return head, coerce(ns[head]), None
            except TypeError as exc:
                raise UsageError(f"{head!r} is not a chain: {exc}") from None
        compiled = self._compile(head, ns, default)
        if compiled.chain is None:
            raise UsageError("%chain needs a chain")
        ns.update(compiled.bindings)
        return compiled.chain_name, compiled.chain, head

    def _compile(
        self, text: str, ns: dict[str, Any], default: str, *, first_line: int = 1
    ) -> dsl.CompiledCell:
        """Compile chain text; in a cell, line numbers count the ``%%`` line as line 1."""
        try:
            return dsl.compile(dsl.parse(text, first_line=first_line), ns, default_model=default)
        except ChainError as exc:
            raise UsageError(str(exc)) from None

    def _run(  # noqa: PLR0917 - one private step of chain(), called once
        self,
        runnable: Runnable,
        value: Any,
        name: str | None,
        source: str | None,
        args: Any,
        ns: dict[str, Any],
    ) -> Any:
        from chainmagic.display import LiveDisplay
        from chainmagic.run import execute

        live = None if args.quiet else LiveDisplay(mode=self.widgets, limit=self.display_limit)
        stream = self.stream if args.stream is None else args.stream
        result = execute(  # an interrupt reaches `live` as a "done" event: it shows cancelled
            runnable,
            value,
            name=name,
            stream=stream,
            timeout=args.timeout or self.timeout or None,
            max_concurrency=args.max_concurrency or self.max_concurrency or None,
            dsl=source,
            on_change=live.on_change if live is not None else None,
        )
        returned = self._deliver(live, result, args, ns)
        if isinstance(result.error, ChainRunError):  # shown and stored first; the cell still fails
            raise result.error
        return returned

    def _batch(self, runnable: Runnable, name: str | None, args: Any, ns: dict[str, Any]) -> Any:
        from chainmagic.display import LiveDisplay
        from chainmagic.run import execute_batch

        try:
            inputs = parse_input([args.batch], ns)
        except InputError as exc:
            raise UsageError(f"--batch: {exc}") from None
        if not isinstance(inputs, (list, tuple)):
            raise UsageError(f"--batch needs a list of inputs, got {type(inputs).__name__}")
        live = None if args.quiet else LiveDisplay(mode=self.widgets, limit=self.display_limit)
        try:
            batch = execute_batch(
                runnable,
                list(inputs),
                name=name,
                timeout=args.timeout or self.timeout or None,
                max_concurrency=args.max_concurrency or self.max_concurrency or None,
                on_change=live.on_batch_change if live is not None else None,
            )
        except BaseException:  # interrupted: the output says cancelled, never "running…"
            if live is not None:
                live.cancel()
            raise
        return self._deliver(live, batch, args, ns)
