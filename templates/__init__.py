"""Jinja2 templates for whole files the fixers create (shipped inside the wheel)."""
