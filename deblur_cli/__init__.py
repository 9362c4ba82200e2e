"""deblur: remove motion blur from video."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """deblur_cli.load, Deblurrer and DeblurWarning (api.py), imported when first asked for: the command
    line does not pay for torch's import before it needs it."""
    if name in ("load", "Deblurrer", "DeblurWarning"):
        from deblur_cli import api

        return getattr(api, name)
    raise AttributeError(f"module 'deblur_cli' has no attribute {name!r}")
