"""Helpers shared by the tests: the repository root, AppTest and browser helpers, independent
reference computations, the link corpus recorder."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
