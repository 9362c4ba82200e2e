"""read_damage.DamageLog: what reading a video met, counted and said without decoding."""

from fractions import Fraction
from types import SimpleNamespace

from deblur_cli.video_io.info import VideoInfo
from deblur_cli.video_io.read_damage import DamageLog

INFO = VideoInfo(64, 48, Fraction(25), Fraction(1, 90000), 100, 8)


def test_nothing_met_says_nothing():
    assert DamageLog().warnings("a.mp4", INFO, None) == []


def test_jumps_are_lost_frames_up_to_ten_seconds_then_a_discontinuity():
    log = DamageLog()
    log.count_jump(3 * 3600, Fraction(1, 90000), 3600)  # two frames missing
    log.count_jump(12 * 90000, Fraction(1, 90000), 3600)
    assert (log.skipped, log.breaks) == (2, [12.0])
    assert [note.split(" (")[0] for note in log.warnings("a.ts", INFO, None)] == [
        "a.ts: the video's timestamps jump forward once, by up to 12 s",
        "a.ts: the video's timestamps jump over 2 frames, missing from the file",
    ]


def test_damage_counts_the_missing_and_stale_frames_and_hides_the_jumps():
    log = DamageLog(missing=2, skipped=5)
    log.refused(SimpleNamespace(pos=100, pts=3600))
    log.left_out_stale()
    log.size_changed(32, 24, 4)
    log.size_changed(16, 12, 9)  # only the first change is told
    assert log.warnings("a.mkv", INFO, None) == [
        "a.mkv: the video's frame size changes (32x24 from frame 5 on); those frames were scaled to the first "
        "size, 64x48",
        "a.mkv: a damaged packet of the video could not be decoded and was skipped; 3 frames are missing from "
        "the output, and some frames after the damage may show blocks",
    ]


def test_damage_after_a_span_is_not_the_spans():
    log = DamageLog()
    log.refused(SimpleNamespace(pos=100, pts=9000))
    log.left_out_stale()
    assert log.warnings("a.mp4", INFO, Fraction(9000)) == [
        "a.mp4: the decoder returned a frame out of order, stamped before frames already read; it was left out"
    ]
    assert len(log.warnings("a.mp4", INFO, Fraction(9001))) == 1
    assert "damaged packet" in log.warnings("a.mp4", INFO, Fraction(9001))[0]
