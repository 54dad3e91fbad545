"""Credit Radar: risk monitoring and early warning for credit-based market supervision."""

__version__ = "0.1.0"

# The lake's on-disk format. A lake written with another major format is refused with a clear message.
LAKE_FORMAT = 1
