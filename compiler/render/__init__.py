"""Rendering of specs for people: LaTeX and Markdown."""
