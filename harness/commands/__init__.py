"""One module per `leak-harness` command."""
