"""What ``register_commands`` receives: the registry of ``beluga`` subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import attrs

from beluga_core.errors import PluginError


@attrs.frozen
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    plugin: str = "beluga-core"


class CommandRegistry:
    """What ``register_commands`` receives: ``commands.add(name, help, configure, run)``.

    ``run(args)`` gets the parsed arguments; ``args.plugins`` is the CLI's plugin manager: pass it
    to ``Kit(..., plugin_manager=args.plugins)`` so the plugins are loaded once.
    """

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self._plugin = "beluga-core"

        self.options: dict[tuple[str, str], Command] = {}

    def add(
        self,
        name: str,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int | None],
    ) -> None:
        """A subcommand: ``configure(parser)`` adds its arguments; ``run(args)`` returns the exit code."""
        if name in self.commands:
            raise PluginError(self._plugin, f"command {name!r} is already defined by {self.commands[name].plugin}")
        self.commands[name] = Command(name, help, configure, run, self._plugin)

    def provide(self, command: str, flag: str, run: Callable[[argparse.Namespace], int | None]) -> None:
        """Handle ``beluga COMMAND FLAG ...``: a flag the command declares but leaves to a plugin
        (``run --trace``); when the flag is given, ``run(args)`` answers instead of the command."""
        key = (command, flag)
        if key in self.options:
            raise PluginError(self._plugin, f"{command} {flag} is already provided by {self.options[key].plugin}")
        self.options[key] = Command(command, flag, lambda _: None, run, self._plugin)

    def provider_of(self, command: str, flag: str) -> Callable[[argparse.Namespace], int | None] | None:
        """The ``run`` a plugin gave for ``command flag`` (None when none did)."""
        option = self.options.get((command, flag))
        return None if option is None else option.run


__all__ = ["Command", "CommandRegistry"]
