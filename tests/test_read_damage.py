"""read_damage.DamageLog: what reading a video met, counted and said without decoding."""

from fractions import Fraction
from types import SimpleNamespace

from deblur_cli.video_io.frame_timing import Steps
from deblur_cli.video_io.info import VideoInfo
from deblur_cli.video_io.read_damage import DamageLog

INFO = VideoInfo(64, 48, Fraction(25), Fraction(1, 90000), 100, 8)


def test_nothing_met_says_nothing():
    assert DamageLog().warnings("a.mp4", INFO, None) == []


def _shown(frames: list[int]) -> DamageLog:
    """A DamageLog that read the frames numbered `frames` of a 25 fps stream on MPEG-TS's 90 kHz clock."""
    log = DamageLog(steps=Steps(Fraction(1, 90000)))
    for frame in frames:
        log.steps.add(Fraction(frame, 25))
    return log


def test_jumps_over_whole_frames_are_lost_frames_and_over_ten_seconds_a_discontinuity():
    log = _shown([*range(20), *range(22, 30), *range(330, 340)])  # 2 frames gone at 0.8 s; 12 s on from 1.16 s
    assert log.steps.breaks == [Fraction(301, 25)]
    assert [note.split(" (")[0] for note in log.warnings("a.ts", INFO, None)] == [
        "a.ts: the video's timestamps jump forward once, by up to 12 s",
        "a.ts: the video's timestamps jump over 2 frames at 0.8 s, missing from the file",
    ]


def test_a_stretch_at_a_lower_rate_is_no_lost_frames():
    """A phone's 30 fps clip with a 15 fps stretch, in MPEG-TS: the rule that counted any interval over a frame and a
    half as lost frames there called it "10 frames" of damage, which `deblur info` called a variable rate (health50
    F2). One rule now (Steps.holes), in every container."""
    log = DamageLog(steps=Steps(Fraction(1, 90000)))
    for time in [Fraction(i, 30) for i in range(20)] + [Fraction(19, 30) + Fraction(k, 15) for k in range(1, 11)]:
        log.steps.add(time)
    assert log.warnings("phone.ts", INFO, None) == []


def test_damage_counts_the_missing_and_stale_frames_and_hides_the_jumps():
    log = _shown([*range(20), *range(25, 40)])
    log.missing = 2
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
