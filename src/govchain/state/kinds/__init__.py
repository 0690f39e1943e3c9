"""Transaction kinds, one module each; each module's SPEC is what the registry holds."""
