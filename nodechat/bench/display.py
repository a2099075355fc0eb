"""The live progress display of ``nodechat bench``, on stderr (stdout stays for ``--json``).

On a terminal it is a rich ``Live`` panel redrawn four times a second: the
phase, its clock, and the workers' counters summed, with rates over the last
second. Elsewhere (a pipe, a CI log) each phase is one plain line.
"""

from __future__ import annotations

import time
from collections import Counter
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

SHOWN = ("sent", "acked", "delivered")


class Display:
    """Phase and counters; safe to call from the parent's loop while Live redraws."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.live = console.is_terminal
        self.name = "starting"
        self.detail = ""
        self.started = time.monotonic()
        self.length: float | None = None
        self.workers: dict[int, dict[str, int]] = {}
        self.expected = 0  # connections
        self._rates: dict[str, float] = {}
        self._last: tuple[float, Counter[str]] = (time.monotonic(), Counter())
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.live:
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=4,
                transient=True,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def phase(self, name: str, detail: str = "", length: float | None = None) -> None:
        """A new phase (``length``: its planned seconds, for the clock)."""
        self.name, self.detail, self.length = name, detail, length
        self.started = time.monotonic()
        if not self.live:
            self.console.print(f"bench: {name}" + (f" ({detail})" if detail else ""), markup=False)

    def note(self, message: str) -> None:
        """One line above the live panel (or in the log)."""
        self.console.print(message, markup=False)

    def update(self, worker: int, snapshot: dict[str, int]) -> None:
        """A worker's latest counters."""
        self.workers[worker] = snapshot

    def totals(self) -> Counter[str]:
        """The workers' counters summed."""
        total: Counter[str] = Counter()
        for snapshot in self.workers.values():
            total.update(snapshot)
        return total

    def render(self) -> RenderableType:
        """The panel: a header line, the counters, the rates."""
        total = self.totals()
        t = time.monotonic()
        last_t, last = self._last
        if t - last_t >= 1.0:
            self._rates = {k: (total[k] - last[k]) / (t - last_t) for k in SHOWN}
            self._last = (t, total)
        clock = f"{t - self.started:.1f} s"
        if self.length:
            clock += f" / {self.length:.1f} s"
        head = Text.assemble((self.title, "bold"), f"  {self.name}  {clock}  {self.detail}")
        counts = Text(
            f"connected {total['connected']:,}/{self.expected:,}   "
            + "   ".join(f"{k} {total[k]:,}" for k in SHOWN)
            + f"   errors {total['errors']:,}"
        )
        rates = Text(
            "per second: " + "   ".join(f"{k} {self._rates.get(k, 0.0):,.0f}" for k in SHOWN),
            style="dim",
        )
        return Group(head, counts, rates)
