"""Stories played on a running devnet through its public API (`govchain demo ...`)."""
