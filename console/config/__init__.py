"""Configuration: the model, the loader with line-accurate errors, and secret lookup."""

from .loader import ConfigError, ConfigProblem, candidate_paths, discover, load, load_file, parse
from .model import Config, Environment, Thresholds
from .secrets import secret_values

__all__ = [
    "Config", "ConfigError", "ConfigProblem", "Environment", "Thresholds", "candidate_paths",
    "discover", "load", "load_file", "parse", "secret_values",
]
