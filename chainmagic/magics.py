"""The ``%%chain``/``%chain`` magics (and ``%chaintime``): options in, language → run → display out.

This module only wires. Parsing the language is :mod:`chainmagic.dsl`'s job, running is
:mod:`chainmagic.run`'s, drawing is :mod:`chainmagic.display`'s. Problems with what the user typed
(syntax, names, options) become IPython's plain ``UsageError``: one short message, and the cell fails.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, CFloat, CInt, Enum, Unicode

from chainmagic import dsl
from chainmagic.core.runnable import Runnable, coerce
from chainmagic.errors import ChainError, ChainRunError
from chainmagic.inputs import InputError, parse_input

__all__ = ["ChainMagics"]

_FLAGS = {
    "-i", "--input", "--batch", "--stream", "--no-stream", "--dry-run", "-o", "-v", "-q",
    "--model", "--timeout", "--max-concurrency", "--to-python", "-h", "--help",
}  # fmt: skip


@magics_class
class ChainMagics(Magics):
    """Compose, run and time LLM chains. Settings: ``%config ChainMagics.<name> = value``."""

    default_model = Unicode(
        "fake:echo", help="Chat model that `model` means in a chain, as 'provider:name'."
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
        head, options = split_line(line)
        args = self._args(options)
        ns = self.shell.user_ns if self.shell is not None else {}
        name, runnable, source = self._resolve(head, cell, args, ns)
        if args.to_python:
            from chainmagic.display import show_python
            from chainmagic.dsl.python import to_python

            show_python(to_python(runnable, name=name))
            return None
        if args.batch is not None:
            return self._batch(runnable, name, args, ns)
        if args.input is None or args.dry_run:
            if not args.quiet:
                from chainmagic.display import show_graph

                show_graph(runnable.get_graph(), dsl.input_variables(runnable), name=name)
            return None
        try:
            value = parse_input(args.input, ns)
        except InputError as exc:
            raise UsageError(str(exc)) from None
        return self._run(runnable, value, name, source, args, ns)

    # -- steps of a %%chain ---------------------------------------------------------------------

    def _args(self, options: str) -> Any:
        try:
            return parse_argstring(self.chain, options)
        except UsageError:
            raise
        except (
            SystemExit
        ):  # argparse's -h or a hard error: IPython's parser turns most into UsageError
            raise UsageError("bad options; see %chain?") from None

    def _resolve(
        self, head: str, cell: str | None, args: Any, ns: dict[str, Any]
    ) -> tuple[str | None, Runnable, str | None]:
        """The chain to run and its name: from the cell, a notebook name, or a one-line pipeline."""
        default = args.model or self.default_model
        if cell is not None:
            name = head or None
            if name is not None and not name.isidentifier():
                raise UsageError(f"%%chain NAME: {name!r} is not a valid name")
            compiled = self._compile(cell, ns, default)
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

    def _compile(self, text: str, ns: dict[str, Any], default: str) -> dsl.CompiledCell:
        try:
            return dsl.compile(text, ns, default_model=default)
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
        if live is not None:
            live.finish(result)
        if args.store:
            ns[args.store] = result
        if isinstance(result.error, ChainRunError):
            raise result.error
        return result if args.return_result else None

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
        batch = execute_batch(
            runnable,
            list(inputs),
            name=name,
            timeout=args.timeout or self.timeout or None,
            max_concurrency=args.max_concurrency or self.max_concurrency or None,
            on_change=live.on_batch_change if live is not None else None,
        )
        if live is not None:
            live.finish(batch)
        if args.store:
            ns[args.store] = batch
        return batch if args.return_result else None


def split_line(line: str) -> tuple[str, str]:
    """Split a magic line into what precedes the options (a name or pipeline) and the options.

    The options start at the first known flag (or any ``-x``/``--xx`` token) outside quotes and
    brackets, so a pipeline's own text (``"a - b" | model``) is left alone.
    """
    depth, quote, i, n = 0, "", 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            if ch == "\\":
                i += 1
        elif line.startswith(('"""', "'''"), i):
            quote = line[i : i + 3]
            i += 3
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "-" and depth <= 0 and (i == 0 or line[i - 1].isspace()):
            token = line[i:].split(None, 1)[0].split("=", 1)[0]
            if token in _FLAGS or (token.startswith("-") and token.lstrip("-")[:1].isalpha()):
                return line[:i].strip(), line[i:]
        i += 1
    return line.strip(), ""
