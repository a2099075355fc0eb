"""Server search in the terminal client: a modal list of ``message.search`` results.

Each result shows its conversation, author, time and the snippet with the matched
words highlighted; Enter opens the conversation at that message (paging history
back as ``g`` does for a reply's original). The last entry loads the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from nodechat.chatclient.records import SearchHit, SearchResults
from nodechat.chatclient.state import ChatState
from nodechat.tui.render import clock, local_day

MORE = "search-more"  # the option id of the "load more" entry


def hit_line(state: ChatState, hit: SearchHit) -> Text:
    """One result: where, who, when, and the snippet with its matches in bold."""
    message = hit.message
    line = Text()
    line.append(state.title(message.conversation), style="bold cyan")
    line.append(f"  {state.username(message.author_id)}", style="bold")
    line.append(f"  {local_day(message.created_at)} {clock(message.created_at)}\n", style="dim")
    text = " ".join(hit.snippet.split("\n"))
    line.append("   ")
    at = 0
    for start, end in hit.highlights:
        if start < at or end > len(text):
            continue
        line.append(text[at:start])
        line.append(text[start:end], style="bold reverse")
        at = end
    line.append(text[at:])
    return line


class SearchScreen(ModalScreen[None]):
    """The results of one server search, best match first."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    @dataclass
    class Chosen(TextualMessage):
        """Open ``conversation`` at ``message_id``."""

        conversation: str
        message_id: str

    @dataclass
    class More(TextualMessage):
        """Load the next page of the results shown."""

        results: SearchResults

    def __init__(self, state: ChatState, results: SearchResults) -> None:
        super().__init__()
        self.state = state
        self.results = results
        where = state.title(results.conversation) if results.conversation else "everywhere"
        self.title_text = f"Search {results.query!r} ({where})"

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Label(f"{self.title_text}: Enter opens a message, Esc closes", id="search-title")
            if not self.results.hits:
                yield Label("No message matches every word.", id="search-none")
            yield OptionList(*self._options(), id="search-results")

    def _options(self) -> list[Option]:
        options = [
            Option(hit_line(self.state, hit), id=f"{n}") for n, hit in enumerate(self.results.hits)
        ]
        if self.results.next_cursor is not None:
            options.append(Option(Text("… more results", style="italic"), id=MORE))
        return options

    def on_mount(self) -> None:
        if self.results.hits:
            self.query_one("#search-results", OptionList).highlighted = 0

    def refresh_results(self) -> None:
        """Show the results again (after a page was added), keeping the selection."""
        view = self.query_one("#search-results", OptionList)
        at = view.highlighted
        view.clear_options()
        view.add_options(self._options())
        if at is not None and view.option_count:
            view.highlighted = min(at, view.option_count - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id == MORE:
            self.app.post_message(self.More(self.results))
            return
        if event.option_id is not None:
            hit = self.results.hits[int(event.option_id)]
            self.app.post_message(self.Chosen(hit.message.conversation, hit.message.id))
        self.dismiss()
