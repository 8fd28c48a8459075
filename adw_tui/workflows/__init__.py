"""Declarative workflows: the YAML schema, its loader and the state-machine interpreter."""
