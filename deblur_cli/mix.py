"""How much of a model's restoration a run keeps, as `--strength`, `--keep-still` and `--keep-detail` say: one value,
made from the options of `deblur run`, `deblur evaluate` and `load()`, that the stream applies (stream.py) and that
labels, captions and recorded settings tell. It needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from deblur_cli.errors import UsageError

STRENGTH_HINT = "1 keeps the whole restoration, 0.5 half of it, 0 the input"


@dataclass(frozen=True)
class Mix:
    """What a run keeps of the restoration. Each window keeps its input's fine texture where the restoration
    smoothed it (`keep_detail`, kept_detail.py), then its input where it stands still (`keep_still`,
    still_regions.py); then each frame is input + strength × (restored − input), and at strength 0 the model does not
    run. The default keeps the whole restoration."""

    strength: float = 1.0
    keep_still: bool = False
    keep_detail: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= 1:
            raise UsageError(f"--strength must be between 0 and 1, got {self.strength:g}", hint=STRENGTH_HINT)

    @property
    def keeps_input(self) -> bool:
        """Whether each window's input is needed beside its restored frames (`keep_still` or `keep_detail`)."""
        return self.keep_still or self.keep_detail

    def words(self) -> list[str]:
        """What the run keeps, in the words labels and captions use: ["strength 0.5", "keep-still", "keep-detail"];
        none for the whole restoration. A table or preview copied elsewhere must not pass for the model's own."""
        kept = [word for word, given in (("keep-still", self.keep_still), ("keep-detail", self.keep_detail)) if given]
        return ([f"strength {self.strength:g}"] if self.strength != 1 else []) + kept

    def settings(self) -> dict:
        """As `run --json` and `evaluate --json` record it in `settings`, and as a resume key holds it."""
        return {"strength": self.strength, "keep_still": self.keep_still, "keep_detail": self.keep_detail}
