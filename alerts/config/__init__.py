"""Alerts as code: SQL Sentinel-compatible YAML files, validated, planned, applied and exported."""

from .export import export_yaml
from .files import Config, ConfigError, check_references, load_files, load_text
from .plan import Plan, apply_plan, make_plan

__all__ = ["Config", "ConfigError", "Plan", "apply_plan", "check_references", "export_yaml", "load_files",
           "load_text", "make_plan"]
