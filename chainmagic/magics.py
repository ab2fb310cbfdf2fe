"""The ``%%chain``/``%chain`` magics (and ``%chaintime``): options in, language → run → display out.

This module only wires. Parsing the language is :mod:`chainmagic.dsl`'s job, running is
:mod:`chainmagic.run`'s, drawing is :mod:`chainmagic.display`'s. Problems with what the user typed
(syntax, names, options) become IPython's plain ``UsageError``: one short message, and the cell fails.
"""

from __future__ import annotations

import shlex
import textwrap
from dataclasses import dataclass
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
from chainmagic.options import check_chain_options, check_chaintime_options, wants_help
from chainmagic.targets import chains_after_input, chains_to_time

__all__ = ["ChainMagics", "last_result"]

_CHAIN_FLAGS = frozenset({
    "-i", "--input", "--batch", "--stream", "--no-stream", "--dry-run", "-o", "-v", "-q",
    "--model", "--timeout", "--max-concurrency", "--to-python", "-h", "--help",
    "--on", "--resume",
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
    batch_on = Unicode(
        "",
        help="Where --batch runs: '' (here), 'dask' (a local Dask cluster, started once) or a "
        "scheduler address such as 'tcp://host:8786'.",
    ).tag(config=True)

    @no_var_expand
    @magic_arguments()
    @argument("target", nargs="*", help="chain name (or, for %%chain line form, a pipeline)")
    @argument("-i", "--input", nargs="+", default=None, metavar="VALUE", help="the chain's input")
    @argument(
        "--batch", nargs="+", default=None, metavar="EXPR", help="run on every input of a list"
    )
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
    @argument("--on", default=None, metavar="WHERE", help="--batch on: dask | tcp://host:port")
    @argument("--resume", action="store_true", help="--batch: run only what did not finish")
    @line_cell_magic
    def chain(self, line: str, cell: str | None = None) -> Any:
        """Compile a chain written in the chain language, run it, and show the result live.

        Usage, in cell mode:
          %%chain [NAME] [options]
          joke: "tell me a joke about {topic}" | model | str
          poem: "write a 2-line poem about {topic}" | model | str

        and in line mode:
          %chain NAME [options]           run a chain of the notebook
          %chain PIPELINE [options]       run a one-line chain

        The cell's NAME = pipeline lines are bound in the notebook, and so is the cell's chain when
        NAME is given (only once every check has passed: a failing cell binds nothing). With -i
        the chain runs and its result shows live; without, its graph and the inputs it needs.

        The input, -i:
          -i topic=bear language=italian     a dict (each value JSON when it parses, else text)
          -i '{"topic": "bear"}'             a JSON or Python literal
          -i question                        a notebook variable (an unknown name is an error)
          -i 'inputs[0]'                     any Python expression, evaluated in the notebook
          -i where did harrison work         plain text, when it is not a Python expression
        A %chain line may end with ? (-i what is LCEL?): it is the input, not a help request.

        Examples:
          %chain map_chain -i topic=cat
          %chain "what is {x}?" | model | str -i x=LCEL
          %chain map_chain --batch '[{"topic": "bear"}, {"topic": "cat"}]'
          %chain map_chain --batch '[{"topic": t} for t in topics]' --on dask

        After a failed run, chainmagic.last_result() holds what finished.
        """
        head, options = split_line(line, _CHAIN_FLAGS)
        argv = self._argv(options)
        if wants_help(argv):
            print(_usage(self.chain))
            return None
        args = self._parse(self.chain, argv)
        check_chain_options(args)
        if (args.on is not None or args.resume) and args.batch is None:
            raise UsageError("--on and --resume go with --batch")
        ns = self.shell.user_ns if self.shell is not None else {}
        target = self._resolve(head, cell, args, ns)
        # Everything that can be checked before running is checked before the cell binds a name:
        # a failing cell changes nothing the user had.
        code = self._python_code(target) if args.to_python else None
        inputs = self._batch_inputs(args, ns) if args.batch is not None else None
        value = self._input(args.input, ns) if args.input is not None else None
        plan = None
        if inputs is not None and code is None and not args.dry_run:
            plan = self._batch_plan(args, target, inputs)
        ns.update(target.bindings)
        if code is not None:
            from chainmagic.display import show_python

            show_python(code)
            return None
        if args.dry_run or (inputs is None and args.input is None):
            if not args.quiet:
                from chainmagic.display import show_graph

                if len(target.bindings) > 1:  # the graph is the last one's: say what else is new
                    print(f"defined {', '.join(target.bindings)}")

                runnable = target.runnable
                show_graph(
                    runnable.get_graph(),
                    dsl.input_variables(runnable),
                    target.name,
                    mode=self.widgets,
                )
            return None
        if inputs is not None and plan is not None:
            return self._batch(target.runnable, target.name, inputs, plan, args, ns)
        return self._run(target.runnable, value, target.name, target.source, args, ns)

    @no_var_expand
    @magic_arguments()
    @argument("chains", nargs="*", help="names of chains in the notebook")
    @argument("-i", "--input", nargs="+", default=None, metavar="VALUE", help="the chains' input")
    @argument("-n", "--runs", default="7", metavar="N|auto", help="runs per chain (7; auto)")
    @argument("-w", "--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    @argument("--max-time", default=None, metavar="S", help="stop after S seconds (auto: 60)")
    @argument("--rel-ci", default=None, metavar="PCT", help="-n auto's target interval (5 %%)")
    @argument("--baseline", default=None, metavar="NAME", help="compare to this chain")
    @argument("--stat", choices=("median", "mean", "min"), default="median", help="what ranks")
    @argument("--seed", type=int, default=0, help="seed of the run order shuffle")
    @argument("--columns", default=None, metavar="A,B", help="table columns (median,p90,ttft…)")
    @argument("--concurrency", default=None, metavar="1,4,16", help="closed-loop load levels")
    @argument("--slo", default=None, metavar="ttft=0.5,total=2", help="goodput bounds (s)")
    @argument("--models", default=None, metavar="A,B", help="time cell chains on each model")
    @argument("-o", dest="return_result", action="store_true", help="return the TimingResult")
    @argument("-v", dest="store", default=None, metavar="VAR", help="store the result in VAR")
    @argument("-q", dest="quiet", action="store_true", help="no display")
    @argument("-p", dest="precision", type=int, default=3, help="significant digits (default 3)")
    @argument("--model", default=None, metavar="SPEC", help="default model for %%chaintime cells")
    @line_cell_magic
    def chaintime(self, line: str, cell: str | None = None) -> Any:
        """Time several chains on the same input and compare them in one table.

        Usage, in line mode:
          %chaintime [options] CHAIN [CHAIN ...]
        and in cell mode, one chain name or one "label: pipeline" per line:
          %%chaintime [options]
          joke_chain
          short: "one word about {topic}" | model

        Runs are interleaved in a shuffled (seeded) order each round, so drift hits every chain
        alike and rounds pair up: ratios compare each chain to the fastest (or --baseline) round
        by round, with an interval, and say "not significant" when it holds 1. Every run records
        its time, time to first token, inter-token latency, tokens/s and error; a parallel map also
        shows how much faster it is than its branches run one after another.

        -n auto runs rounds until every median is known within --rel-ci (5 %) or --max-time
        (60 s) is spent. --concurrency 1,4,16 keeps that many runs of each chain in flight and
        reports throughput per level; --slo ttft=0.5,total=2 adds goodput; --models a,b times each
        chain of the cell once per model. All of it is kept in the result (.to_json(), and in the
        saved notebook).

        Examples:
          %chaintime -i topic=bear joke_chain poem_chain map_chain
          %chaintime -n auto --rel-ci 2 -i topic=bear joke_chain map_chain
          %chaintime --concurrency 1,4,16 --slo ttft=0.5,total=2 -i topic=bear joke_chain
        """
        from chainmagic import timing_options as opt

        argv = self._argv(line)
        if wants_help(argv):
            print(_usage(self.chaintime))
            return None
        args = self._parse(self.chaintime, argv)
        check_chaintime_options(args)
        ns = self.shell.user_ns if self.shell is not None else {}
        try:
            runs = opt.read_runs(args.runs)
            max_time = opt.read_max_time(args.max_time)
            rel_ci = opt.read_rel_ci(args.rel_ci or "5")
            if args.rel_ci is not None and runs is not None:
                raise opt.OptionError(f"--rel-ci {args.rel_ci}: goes with -n auto")
            columns = opt.read_columns(args.columns)
            levels = opt.read_concurrency(args.concurrency)
            slo = opt.read_slo(args.slo)
            models = opt.read_models(args.models)
        except opt.OptionError as exc:
            raise UsageError(str(exc)) from None
        if args.model is not None and not _has_pipelines(cell):
            raise UsageError(
                "--model applies to the pipelines of a %%chaintime cell; chains named here keep "
                "the model they were built with"
            )
        args.input, moved = chains_after_input(args.input, ns)
        default = args.model or self.default_model
        names = [*args.chains, *moved]
        chains, model_of = self._chains_to_time(names, cell, ns, default, models)
        if args.baseline is not None and args.baseline not in chains:
            raise UsageError(f"--baseline {args.baseline}: not one of {', '.join(chains)}")
        if args.input is None:
            raise UsageError("%chaintime needs an input: -i topic=bear")
        value = self._input(args.input, ns)
        from chainmagic.display import LiveTiming
        from chainmagic.errors import ChainTimingError
        from chainmagic.run.timing import time_chains
        from chainmagic.run.timing_result import TimingResult

        live = None
        if not args.quiet:
            live = LiveTiming(mode=self.widgets, total=(runs or 0) * len(chains))
        try:
            session = time_chains(
                chains,
                value,
                runs=runs,
                warmup=args.warmup,
                max_time=max_time,
                rel_ci=rel_ci,
                seed=args.seed,
                on_progress=live.on_progress if live is not None else None,
                models=model_of,
            )
            load = []
            if levels:
                from chainmagic.run.load import run_load

                load = run_load(chains, value, levels, runs=runs or 7, max_time=max_time, slo=slo)
        except BaseException:  # interrupted: the output says cancelled, never "measuring…"
            if live is not None:
                live.cancel()
            raise
        result = TimingResult(
            session.timings,
            input=value,
            stat=args.stat,
            baseline=args.baseline,
            orders=session.orders,
            runs_requested=runs or 0,
            warmup=args.warmup,
            precision=max(1, args.precision),
            stopped_by=session.stopped_by,
            rel_ci=rel_ci if runs is None else None,
            slo=slo,
            load=load,
            columns=columns,
        )
        returned = self._deliver(live, result, args, ns)
        if not any(t.all_runs for t in result.chains.values()):
            first = next((t.last_error for t in result.chains.values() if t.last_error), None)
            why = f": {first}" if first is not None else ""
            raise ChainTimingError(f"every run failed{why}", result)
        return returned

    def _chains_to_time(
        self,
        names: list[str],
        cell: str | None,
        ns: dict[str, Any],
        default: str,
        models: list[str],
    ) -> tuple[dict[str, Runnable], dict[str, str]]:
        """The chains by label and, with ``--models``, each label's model (cell chains × models)."""
        if not models:
            found = chains_to_time(names, cell, ns, lambda text: self._compile(text, ns, default))
            return found, {}
        named = [
            *names,
            *(t.strip() for t in (cell or "").splitlines() if t.strip().isidentifier()),
        ]
        if named:
            raise UsageError(
                f"--models rebinds `model` in chains written in the cell (label: pipeline); "
                f"{named[0]} comes from the notebook"
            )
        chains: dict[str, Runnable] = {}
        model_of: dict[str, str] = {}
        for spec in models:

            def compile_for(text: str, spec: str = spec) -> dsl.CompiledCell:
                return self._compile(text, ns, spec)

            for label, chain in chains_to_time([], cell, ns, compile_for).items():
                chains[f"{label} @ {spec}"] = chain
                model_of[f"{label} @ {spec}"] = spec
        return chains, model_of

    # -- steps of a %%chain ---------------------------------------------------------------------

    @staticmethod
    def _deliver(live: Any, obj: Any, args: Any, ns: dict[str, Any]) -> Any:
        """How every run ends: the final display, ``-v VAR`` stored, ``-o`` returned.

        Also how every *failed* or interrupted run ends (``obj`` then holds what finished), so
        :func:`chainmagic.last_result` and ``-v`` keep it even when the cell fails.
        """
        remember(obj)
        if live is not None:
            live.finish(obj)
        if args.store:
            ns[args.store] = obj
        return obj if args.return_result else None

    @staticmethod
    def _argv(options: str) -> list[str]:
        """Options split the way a shell would (quotes removed)."""
        try:
            return shlex.split(options)
        except ValueError as exc:
            raise UsageError(f"cannot read the options: {exc}") from None

    @staticmethod
    def _parse(magic: Any, argv: list[str]) -> Any:
        """The options parsed by the magic's own parser (argparse errors are UsageErrors)."""
        return magic.parser.parse_args(argv)

    @staticmethod
    def _input(tokens: list[str], ns: dict[str, Any]) -> Any:
        try:
            return parse_input(tokens, ns)
        except InputError as exc:
            raise UsageError(str(exc)) from None

    @staticmethod
    def _batch_inputs(args: Any, ns: dict[str, Any]) -> list[Any]:
        try:
            inputs = parse_input(args.batch, ns)
        except InputError as exc:
            raise UsageError(f"--batch: {exc}") from None
        if isinstance(inputs, str) and len(args.batch) > 1:  # its quotes were lost to splitting
            raise UsageError(
                "--batch needs a list: quote the expression whole, "
                """e.g. --batch '[{"topic": t} for t in topics]'"""
            )
        if not isinstance(inputs, (list, tuple)):
            raise UsageError(f"--batch needs a list of inputs, got {type(inputs).__name__}")
        return list(inputs)

    @staticmethod
    def _python_code(target: _Target) -> str:
        from chainmagic.dsl.python import CannotTranslate, to_python

        try:
            return to_python(target.runnable, name=target.name)
        except CannotTranslate as exc:
            raise UsageError(f"--to-python: {exc}") from None

    def _resolve(self, head: str, cell: str | None, args: Any, ns: dict[str, Any]) -> _Target:
        """The chain to run, its name, and the names the cell would bind (not bound yet)."""
        default = args.model or self.default_model
        if cell is not None:
            name = head or None
            if name is not None and not name.isidentifier():
                raise UsageError(f"%%chain NAME: {name!r} is not a valid name")
            compiled = self._compile(cell, ns, default, first_line=2)
            if compiled.chain is None:
                raise UsageError("the cell holds no chain")
            bindings = dict(compiled.bindings)
            if name is not None:
                bindings[name] = compiled.chain
            return _Target(name or compiled.chain_name, compiled.chain, cell, bindings)
        if not head:
            raise UsageError("%chain needs a chain: %chain NAME -i ... or %chain PIPELINE -i ...")
        if head.isidentifier() and head in ns:
            if args.model is not None:
                raise UsageError(
                    f"--model applies to chains written in this cell; {head!r} keeps the model it "
                    f"was built with (rebuild it: %%chain {head} --model {args.model})"
                )
            try:
                return _Target(head, coerce(ns[head]), None, {})
            except TypeError as exc:
                raise UsageError(f"{head!r} is not a chain: {exc}") from None
        compiled = self._compile(head, ns, default)
        if compiled.chain is None:
            raise UsageError("%chain needs a chain")
        return _Target(compiled.chain_name, compiled.chain, head, dict(compiled.bindings))

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
        try:
            result = execute(
                runnable,
                value,
                name=name,
                stream=stream,
                timeout=args.timeout or self.timeout or None,
                max_concurrency=args.max_concurrency or self.max_concurrency or None,
                dsl=source,
                on_change=live.on_change if live is not None else None,
            )
        except BaseException as exc:  # an interrupt: what finished is kept, then the cell stops
            self._keep_interrupted(exc, live, args, ns)
            raise
        returned = self._deliver(live, result, args, ns)
        if isinstance(result.error, ChainRunError):  # shown and stored first; the cell still fails
            result.error.result = result
            raise result.error
        return returned

    def _batch_plan(self, args: Any, target: _Target, inputs: list[Any]) -> tuple[Any, Any]:
        """Where a batch runs and what it resumes, checked before the cell binds anything: also
        that the chain can travel to a cluster (before connecting to it)."""
        name = target.name
        resume = None
        if args.resume:
            resume = self._unfinished_batches().get(name)
            if resume is None or not resume.unfinished:
                raise UsageError(f"--resume: no unfinished batch of {name or 'this chain'}")
            if resume.size != len(inputs):
                raise UsageError(
                    f"--resume: that batch had {resume.size} inputs, not {len(inputs)}"
                )
        where = args.on if args.on is not None else self.batch_on
        if where.strip() not in ("", "local"):
            from chainmagic.run.shipping import CannotTravel, pack

            try:
                pack(target.runnable)  # the batch packs it again; this only proves it can
            except CannotTravel as exc:
                raise UsageError(str(exc)) from None
        return self._batch_client(where), resume

    def _unfinished_batches(self) -> dict[str | None, Any]:
        unfinished: dict[str | None, Any] = self.__dict__.setdefault("_unfinished", {})
        return unfinished

    def _batch(  # noqa: PLR0917 - one private step of chain(), called once
        self,
        runnable: Runnable,
        name: str | None,
        inputs: list[Any],
        plan: tuple[Any, Any],
        args: Any,
        ns: dict[str, Any],
    ) -> Any:
        from chainmagic.display import LiveDisplay
        from chainmagic.run.batching import batch as run_batch
        from chainmagic.run.shipping import CannotTravel

        client, resume = plan
        values = list(inputs)
        unfinished = self._unfinished_batches()
        live = None if args.quiet else LiveDisplay(mode=self.widgets, limit=self.display_limit)
        try:
            batch = run_batch(
                runnable,
                values,
                client,
                name=name,
                timeout=args.timeout or self.timeout or None,
                max_concurrency=args.max_concurrency or self.max_concurrency or None,
                resume=resume,
                on_change=live.on_batch_change if live is not None else None,
            )
        except CannotTravel as exc:
            raise UsageError(str(exc)) from None
        except BaseException as interrupt:  # what finished is kept, shown, and resumable
            partial = getattr(interrupt, "batch", None)
            if partial is not None:
                unfinished[name] = partial
                self._deliver(live, partial, args, ns)
            elif live is not None:  # the output says cancelled, never "running…"
                live.cancel()
            raise
        if batch.unfinished:
            unfinished[name] = batch
        else:
            unfinished.pop(name, None)
        return self._deliver(live, batch, args, ns)

    @staticmethod
    def _batch_client(where: str) -> Any:
        """The Dask client for ``--on`` (None: run here); what cannot work fails as a UsageError."""
        where = where.strip()
        if where in ("", "local"):
            return None
        if where != "dask" and "://" not in where:
            raise UsageError(f"--on {where}: use 'dask' or a scheduler address (tcp://host:8786)")
        try:
            from chainmagic.run.clusters import client_for

            return client_for(where)
        except ImportError:
            raise UsageError("--on needs Dask: pip install 'dask[distributed]'") from None
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--on {where}: cannot reach the scheduler ({exc})") from None

    def _keep_interrupted(
        self, exc: BaseException, live: Any, args: Any, ns: dict[str, Any]
    ) -> None:
        """An interrupted run still ends like any other: shown as cancelled, stored, remembered."""
        partial = getattr(exc, "result", None)
        if partial is not None:
            self._deliver(live, partial, args, ns)


@dataclass
class _Target:
    """What a ``%%chain`` line and cell resolve to; ``bindings`` are bound only once all is checked."""

    name: str | None
    runnable: Runnable
    source: str | None
    bindings: dict[str, Any]


_last: list[Any] = [None]


def remember(result: Any) -> None:
    """Keep the latest result of any magic, finished, failed or interrupted."""
    _last[0] = result


def last_result() -> Any:
    """The result of the latest ``%%chain``/``%chain``/``%chaintime`` run, even when it failed.

    A cell that fails does not assign ``r = %chain ... -o``; ``chainmagic.last_result()`` is how
    what finished before the failure is reached (``ChainResult``, ``BatchResult`` or ``TimingResult``).
    """
    return _last[0]


def _usage(magic: Any) -> str:
    """``-h``: the options as plain text (argparse's help without the reST ``::`` it carries)."""
    text = magic.parser.format_help().lstrip(":").strip("\n")
    return "usage: " + textwrap.dedent(text).lstrip()


def _has_pipelines(cell: str | None) -> bool:
    """Whether a %%chaintime cell holds ``label: pipeline`` lines (compiled with the cell's model)."""
    for raw in (cell or "").splitlines():
        text = raw.strip()
        if text and not text.startswith("#") and not text.isidentifier():
            return True
    return False


def _plain_help(func: Any, magic: str) -> None:
    """``%chain?`` reads like ``%timeit?``: plain text, no reST ``::`` before the usage line."""
    doc = func.__doc__ or ""
    if doc.startswith("::"):
        body = doc[2:].lstrip("\n")
        func.__doc__ = "Usage:\n" + body.replace(f"  %{magic} [", f"  %%{magic} or %{magic} [", 1)


_plain_help(ChainMagics.chain, "chain")
_plain_help(ChainMagics.chaintime, "chaintime")
