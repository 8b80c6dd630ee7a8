"""topoctl: topology as code for message brokers."""

__version__ = "0.1.0"
