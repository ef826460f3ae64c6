"""hourglass: a Python toolkit for building EigenLayer Hourglass AVSs."""

__version__ = "0.1.0"
