"""Start the upstream a target declares, by kind: the fake Azure OpenAI or Azurite."""

from __future__ import annotations

from pathlib import Path

from harness.upstream.child import ListeningChild
from harness.upstream.process import StubProcess, StubStartError

KINDS = ("azure-openai", "azurite")


def start_upstream(kind: str, args: list[str], data_dir: Path | None = None) -> ListeningChild:
    """A running upstream; its `url` and `api_key` become `{upstream.KIND}` and
    `{upstream.KIND.key}` (for Azurite the key is the connection string). An upstream that
    stores data (Azurite) keeps it in `data_dir`, or a temporary directory."""
    if kind == "azure-openai":
        return StubProcess(args)
    if kind == "azurite":
        from harness.upstream.azurite import AzuriteProcess

        if args:
            raise StubStartError(f"the azurite upstream takes no args (got {args})")
        return AzuriteProcess(data_dir)
    raise StubStartError(f"unknown upstream kind {kind!r} (known: {', '.join(KINDS)})")
