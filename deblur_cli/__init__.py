"""deblur: remove motion blur from video."""

__version__ = "0.1.0"
