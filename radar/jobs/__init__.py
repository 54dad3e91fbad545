"""Spark job entry points, thin: each reads its inputs from the lake, composes transformations, publishes."""
