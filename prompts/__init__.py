"""Prompt templates, installed as the resource package ``summarizer.prompts``."""
