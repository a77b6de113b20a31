"""VitalStream: the shared wire contract, settings and command line of the VitalStream service."""

__version__ = "0.1.0"

__all__ = ["__version__"]
