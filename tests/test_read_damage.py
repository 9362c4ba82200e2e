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


def test_frames_the_index_lists_and_the_file_lacks_are_said_without_damaged_packets():
    """Found by fuzz48: an MP4 cut among its last B-frames lost 2 of its 40 frames, counted but never said."""
    assert DamageLog(missing=2).warnings("a.mp4", INFO, None) == [
        "a.mp4: 2 frames the file's index lists are missing from it (cut out or damaged without an error); the "
        "output goes without, where a player holds the frame before"
    ]
    assert "a frame the file's index lists is missing" in DamageLog(missing=1).warnings("a.mp4", INFO, None)[0]
    assert DamageLog(missing=0).warnings("a.mp4", INFO, None) == []


def test_an_mp4_cut_among_its_last_frames_is_read_with_a_warning_of_what_it_lacks(tmp_path):
    import av

    from deblur_cli.video_io import open_source
    from tests import media

    whole = media.faststart(media.make_video(tmp_path / "a.mp4", frames=40, codec="libx264"), tmp_path / "fs.mp4")
    with av.open(str(whole)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: packets[-2].pos])  # the last P frame's B frames, shown before it, are gone
    with open_source(cut) as source:
        frames = sum(1 for _ in source)
        warnings = source.warnings
    assert frames < 40 and len(warnings) == 1
    assert warnings[0].startswith(f"cut.mp4: {40 - frames} frames the file's index lists are missing from it")
