"""Vocabulary data files read by the offline extractor."""
