"""Batch AI: model configuration now; registry, loading and pipelines as they are built."""
