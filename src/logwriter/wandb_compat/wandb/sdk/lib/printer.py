"""``wandb.sdk.lib.printer``: what lm-evaluation-harness's wandb logger imports
(``get_printer``) to print its summary tables; here they go to stderr as wandb's
terminal lines do."""

from __future__ import annotations

import sys
from typing import Any


class Printer:
    """The subset of wandb's printer such loggers call."""

    def display(self, text: str | list[str], *, level: Any = None, **kwargs: Any) -> None:
        lines = [text] if isinstance(text, str) else list(text)
        for line in lines:
            sys.stderr.write(f"wandb: {line}\n")

    def name(self, text: str) -> str:
        return text

    def link(self, link: str, text: str | None = None) -> str:
        return link if text is None else f"{text} ({link})"

    def emoji(self, name: str) -> str:
        return ""

    def files(self, text: str) -> str:
        return text


def get_printer(jupyter: bool = False) -> Printer:
    return Printer()


__all__ = ["Printer", "get_printer"]
