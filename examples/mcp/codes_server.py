"""A tiny MCP server for trying voicelive's tools offline (``--simulate --mcp-config``).

It keeps a code book: ``lookup_code(word)`` answers the code of a word, ``list_words()`` the
words it knows. Written with the official ``mcp`` SDK (a voicelive dependency), run over stdio.
See ``mcp.json`` next to it and README "Tools".
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

CODE_BOOK = {"lighthouse": "LH-42", "harbour": "HB-07", "anchor": "AN-13", "compass": "CP-99"}

server = MCPServer("codes", instructions="A code book: look up the code of a word.")


@server.tool()
def lookup_code(word: str) -> str:
    """The code of a word in the code book (for example lighthouse)."""
    code = CODE_BOOK.get(word.strip().lower())
    if code is None:
        raise ToolError(f"the code book has no entry for {word!r}")
    return code


@server.tool()
def list_words() -> list[str]:
    """The words the code book knows."""
    return sorted(CODE_BOOK)


if __name__ == "__main__":
    server.run()
