"""Library modules: the logic the subcommands share. None of them imports a subcommand."""
