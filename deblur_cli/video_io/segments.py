"""A video output that survives an interrupted run: the frames are encoded in segments kept in a work folder
beside the output, and joined into the output at the end. A later run with the same settings continues
after the last whole segment instead of starting over.

Each segment is encoded by a fresh encoder, so it starts with a keyframe and needs nothing from the one
before; its packets are stored as the encoder made them (`seg_NNNNN.bin`, and their timestamps in
`seg_NNNNN.json`, written last: a segment without its JSON is incomplete and ignored). Joining muxes every
stored packet into one stream whose encoder was opened with the same settings, which makes the same stream
headers (checked): this is how chunked encoders (av1an, for one) assemble their chunks, and it copies the
packets without decoding them. The caller decides where segments may end (`cut`) and what must match for
work to be reused (`key`); pipeline.py does both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.packet import PacketSideData, packet_sidedata_type_from_literal

from deblur_cli import files
from deblur_cli.errors import DiskFullError, OutputError
from deblur_cli.interrupts import held_back
from deblur_cli.video_io import atomic
from deblur_cli.video_io.frame_sink import FrameSink
from deblur_cli.video_io.encoding import EncodeOptions
from deblur_cli.video_io.info import Frame, VideoInfo, checked_parts
from deblur_cli.video_io.work_folder import ResumePoint, WorkFolder, write_record
from deblur_cli.video_io.writer import VideoEncoder, VideoFileSink, open_container, start_encoding
from deblur_cli.wording import readable_size

_SEGMENT = re.compile(r"^seg_(\d{5})\.json$")
# About what a container adds to each packet (MP4's index, Matroska's block headers): deblur's outputs of clips
# with AAC sound took 10 to 14 bytes a packet beyond the packets' data in MP4 (5 minutes at 160x96), 8 in Matroska
MUXED_BYTES_PER_PACKET = 16


@dataclass(frozen=True)
class _Record:
    """A finished segment as its JSON describes it."""

    number: int
    first: int  # index of its first frame in the output
    frames: int
    restart: int | None  # where a run continuing after this segment starts reading; None after the last
    restart_pts: int | None
    time_base: Fraction
    extradata: bytes | None
    packets: list[list]  # [size, pts, dts, duration, keyframe, side data] in decode order (_stored_size)
    sha256: str | None = None  # of the data file, checked before it is reused (None in records from before)

    @property
    def stop(self) -> int:
        return self.first + self.frames


class SegmentedVideoSink(atomic.FinishesOnExit, FrameSink):
    """Frames encoded into `path` (a video file, as VideoFileSink writes it) by way of segments in
    `work_folder(path)`.

    `key` is what the output depends on (a JSON-able dict). When the folder holds segments made under the
    same key, `resume_point` says where they end, and the frames written next continue after them; with
    another key, or `fresh`, they are removed first (`discarded` counts their frames). `cut(...)` ends the
    current segment: from then on its frames are kept whatever happens. `finish()` joins the segments into
    `path` (atomically, with the source's audio) and removes the folder; `abort()` drops the segment in
    progress and keeps the finished ones for a later run (or removes the folder if none is finished).
    A second run writing the same output at the same time is refused (OutputError).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        options: EncodeOptions,
        *,
        key: dict,
        source: str | os.PathLike | None = None,
        fresh: bool = False,
    ):
        self.path = Path(path)
        self.info = info
        self.warnings: list[str] = []
        self._options, self._source = options, source
        self._state = "open"
        self._segment: _SegmentWriter | None = None
        self._output: VideoFileSink | None = None  # the output the segments are joined into, by finish()
        self._folder = WorkFolder(self.path, key, fresh=fresh)
        self.work = self._folder.path
        self._records: list[_Record] = []
        try:
            self._records, self.discarded, self.damaged = _load(self._folder)
            self.changes = self._folder.changes
            last = self._records[-1] if self._records else None
            self.resume_point = ResumePoint(last.stop, last.restart, last.restart_pts) if last else None
            self._next = last.stop if last else 0
            self._segment = self._open_segment()  # bad encoder settings fail here, before any frame is decoded
        except BaseException:
            self._folder.release(keep=bool(self._records))
            raise

    @property
    def kept_frames(self) -> int:
        """Frames in finished segments: what a later run would not restore again."""
        return self._records[-1].stop if self._records else 0

    def write(
        self,
        frame: Frame | np.ndarray,
        pts: int | None = None,
        alpha: np.ndarray | None = None,
        duration: int | None = None,
    ) -> None:
        """Encode one frame, as VideoFileSink.write does. Without a timestamp, a frame's is its index
        times the nominal frame duration, so that segments continue each other's clock."""
        frame, pts, alpha, duration = checked_parts(frame, pts, alpha, self.info, duration)
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            if self._segment is None:
                self._segment = self._open_segment()
            self._segment.write(frame, pts, alpha, duration)
            self._next += 1

    def cut(self, restart: int, restart_pts: int | None) -> None:
        """End the current segment after the frames written so far and keep it. A later run continuing
        from here starts reading at frame `restart` (timestamp `restart_pts`) and writes from the next
        frame on."""
        atomic.check_open(self._state, self.path)
        if self._segment is None or not self._segment.frames:
            return
        with atomic.cleanup_on_error(self.path, self.abort):
            self._records.append(self._segment.close(restart, restart_pts))
            self._segment = None

    def finish(self) -> None:
        """Join the segments into the output under its final name, then remove the work folder."""
        atomic.check_open(self._state, self.path)
        with atomic.cleanup_on_error(self.path, self.abort):
            if self._segment is not None:
                if self._segment.frames:
                    self._records.append(self._segment.close(None, None))
                else:
                    self._segment.discard()
                self._segment = None
            if not self._records:
                raise OutputError(f"no frames were written to {self.path}", hint="the input produced no frames")
            self._output = VideoFileSink(
                self.path, self.info, self._options, source=self._source, temp_folder=self.work
            )
            try:
                with self._output as sink:
                    self.warnings = sink.warnings
                    sink.write_packets(_joined(self.work, self._records, sink.extradata, self.path))
            except DiskFullError:
                raise self._no_room_to_join() from None
        self._done()

    def _no_room_to_join(self) -> DiskFullError:
        """The error for a disk that filled as the kept segments were joined: every frame is restored, so the
        way on is room for the output beside them and the same command (an output elsewhere restores again)."""
        sizes = [packet[0] for record in self._records for packet in record.packets]
        count, size = len(sizes), sum(sizes)
        if self._output is not None:  # the audio, subtitles and telemetry copied from the input
            with contextlib.suppress(OSError, av.FFmpegError):  # the input gone since: the video's alone
                carried = self._output.carried()
                count, size = count + carried[0], size + carried[1]
        size += count * MUXED_BYTES_PER_PACKET
        try:
            free = shutil.disk_usage(self.work).free
        except OSError:
            free = None
        room = f"the output needs about {readable_size(size)} beside the frames kept in {self.work}"
        if free is not None and free < size:
            room += f", {readable_size(free)} free now: free about {readable_size(size - free)} more"
        else:
            room += ": free room for it"
        return DiskFullError(
            f"disk full while joining the restored frames into {self.path}",
            hint=f"{room}, then run the same command, which only joins them (an output elsewhere restores them again)",
        )

    @property
    def finished(self) -> bool:
        """Whether the output is in place under its final name."""
        return self._state == "finished"

    def abort(self) -> None:
        """Drop the segment in progress; keep the finished ones for a later run. Does nothing once finished
        or aborted; once the joined output is in place (a stop as it was renamed), only removes the folder."""
        if self._state == "open" and self._output is not None and self._output.finished:
            self._done()
        elif self._state == "open":
            self._state = "aborted"
            if self._segment is not None:
                self._segment.discard()
                self._segment = None
            self._folder.release(keep=bool(self._records))

    def _done(self) -> None:
        """The output is in place: nothing is left for a later run."""
        with held_back():
            self._state = "finished"
            self._folder.release(keep=False)

    def _open_segment(self) -> _SegmentWriter:
        number = self._records[-1].number + 1 if self._records else 0
        return _SegmentWriter(self.work, number, self._next, self.path.name, self.info, self._options)


class _SegmentWriter:
    """One segment being encoded: a fresh encoder, its packets appended to `seg_NNNNN.bin.part`."""

    def __init__(self, work: Path, number: int, first: int, name: str, info: VideoInfo, options: EncodeOptions):
        self.number, self.first, self.frames = number, first, 0
        self._work = work
        self._packets: list[list] = []
        self._digest = hashlib.sha256()  # of the data as written, so damage on disk is found before reuse
        # The encoder belongs to a container of the output's own format, which never receives a packet:
        # the format decides how the encoder stores its headers (in-band, or once for the container).
        memory = io.BytesIO()
        memory.name = name
        self._container = open_container(memory, name)
        self._data = None
        try:
            self._encoder = VideoEncoder(self._container, name, info, options, warnings=[])
            start_encoding(self._container, self._encoder.encoding, in_memory=True)
            self._data = open(self._part(".bin"), "wb")
        except BaseException:
            self.discard()
            raise

    def _part(self, suffix: str) -> Path:
        return self._work / f"seg_{self.number:05d}{suffix}.part"

    def write(self, image: np.ndarray, pts: int | None, alpha: np.ndarray | None, duration: int | None) -> None:
        if pts is None:
            pts = (self.first + self.frames) * self._encoder.step
        self._store(self._encoder.encode(image, pts, alpha, duration))
        self.frames += 1

    def _store(self, packets) -> None:
        for packet in packets:
            data = bytes(packet)
            self._data.write(data)
            self._digest.update(data)
            side = []  # VP9's alpha plane, for one, travels as side data (a Matroska BlockAdditional)
            for item in packet.iter_sidedata():
                extra = bytes(item)
                self._data.write(extra)
                self._digest.update(extra)
                side.append([item.data_type, len(extra)])
            self._packets.append([len(data), packet.pts, packet.dts, packet.duration, int(packet.is_keyframe), side])

    def close(self, restart: int | None, restart_pts: int | None) -> _Record:
        """Flush the encoder and make the segment whole on disk (data first, its JSON last)."""
        self._store(self._encoder.flush())
        # The container never received a packet, and some muxers fail to finish an empty file (MXF):
        # its headers were all it was for.
        with contextlib.suppress(av.FFmpegError):
            self._container.close()
        self._data.flush()
        os.fsync(self._data.fileno())
        self._data.close()
        record = _Record(
            number=self.number,
            first=self.first,
            frames=self.frames,
            restart=restart,
            restart_pts=restart_pts,
            time_base=self._encoder.time_base,
            extradata=self._encoder.extradata,
            packets=self._packets,
            sha256=self._digest.hexdigest(),
        )
        os.replace(self._part(".bin"), _data_path(self._work, self.number))
        write_record(self._work / f"seg_{self.number:05d}.json", _record_json(record))
        return record

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        if self._data is not None:
            with contextlib.suppress(OSError):  # closing flushes: on a full disk that fails again
                self._data.close()
        files.discard(self._part(".bin"))


def _load(folder: WorkFolder) -> tuple[list[_Record], int, int]:
    """The segments kept in `folder`, whole and consecutive from the first frame; the frames that those made
    under another key held (0 if none; they are removed, as is anything else but the kept); and the frames of
    this key's segments after those that cannot be reused, found damaged or incomplete (a data file changed on
    disk, a machine that lost power as they were written)."""
    records: list[_Record] = []
    segments = sorted((int(m.group(1)), path) for path in folder.path.iterdir() if (m := _SEGMENT.match(path.name)))
    # hashed only where they may be reused: work about to be discarded is only counted
    found = [r for number, path in segments if (r := _read_record(path, number, verify=folder.matches)) is not None]
    if folder.matches:
        for record in found:
            expected = records[-1].stop if records else 0
            if record.first != expected or records and records[-1].restart is None:
                break
            records.append(record)
    discarded = 0 if folder.matches else max((record.stop for record in found), default=0)
    damaged = 0
    if folder.matches:  # what the segments' own records say they held, their data unchecked
        told = max((_told_stop(path) for _, path in segments), default=0)
        damaged = max(0, told - (records[-1].stop if records else 0))
    folder.refuse_to_discard(discarded)
    folder.keep({f"seg_{r.number:05d}{suffix}" for r in records for suffix in (".json", ".bin")})
    return records, discarded, damaged


def _told_stop(path: Path) -> int:
    """Where the frames of a segment end by its JSON alone (0 where that cannot be read), whatever its data."""
    try:
        data = json.loads(path.read_text())
        return int(data["first"]) + int(data["frames"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _read_record(path: Path, number: int, *, verify: bool = True) -> _Record | None:
    """A segment's record, or None if its JSON or data file is missing, unreadable or inconsistent (with
    `verify`, its data's SHA-256 too)."""
    try:
        data = json.loads(path.read_text())
        record = _Record(
            number=number,
            first=int(data["first"]),
            frames=int(data["frames"]),
            restart=data["restart"],
            restart_pts=data["restart_pts"],
            time_base=Fraction(data["time_base"]),
            extradata=bytes.fromhex(data["extradata"]) if data["extradata"] is not None else None,
            packets=data["packets"],
            sha256=data.get("sha256"),
        )
        stored = _data_path(path.parent, number)
        if stored.stat().st_size != sum(map(_stored_size, record.packets)):
            return None
        # damaged on disk, or copied so
        if verify and record.sha256 is not None and _file_sha256(stored) != record.sha256:
            return None
        for packet in record.packets:  # side data this PyAV cannot name (written by another) is a ValueError
            for kind, _ in packet[5] if len(packet) > 5 else []:
                packet_sidedata_type_from_literal(kind)
        return record
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record_json(record: _Record) -> dict:
    return {
        "first": record.first,
        "frames": record.frames,
        "restart": record.restart,
        "restart_pts": record.restart_pts,
        "time_base": str(record.time_base),
        "extradata": record.extradata.hex() if record.extradata is not None else None,
        "packets": record.packets,
        "sha256": record.sha256,
    }


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stored_size(packet: list) -> int:
    """The bytes a packet's entry stands for in the data file: its own and its side data's. An entry
    has [size, pts, dts, duration, keyframe] and, from 2026-12, [[side data type, size], ...]."""
    return packet[0] + sum(size for _, size in (packet[5] if len(packet) > 5 else []))


def _data_path(work: Path, number: int) -> Path:
    return work / f"seg_{number:05d}.bin"


def _joined(work: Path, records: list[_Record], extradata: bytes | None, output: Path):
    """The stored packets of every segment in order, as av.Packets with their timestamps.

    Decode timestamps must rise across segments too. With a constant frame rate they do by themselves
    (each encoder delays its first decode time by the same number of frames); where one does not, it is
    moved one tick past the previous, as long as the packet is still decoded before it is shown. A frame
    not reordered (its pts its dts) is moved whole, shown a tick later, as the writer itself moves frames
    that a container counting frames (AVI) would put on one tick: a variable rate written there comes out
    as a run written in one piece writes it.
    """
    last_dts = None
    for record in records:
        if record.extradata != extradata:
            raise OutputError(
                f"the encoder made other stream headers for {output.name} than for the work kept in {work}",
                hint="the encoder library changed since that work was done; run again with --no-resume",
            )
        with open(_data_path(work, record.number), "rb") as data:
            for size, pts, dts, duration, keyframe, *side in record.packets:
                packet = av.Packet(data.read(size))
                for kind, length in side[0] if side else []:
                    item = PacketSideData(packet_sidedata_type_from_literal(kind), length)
                    item.update(data.read(length))
                    packet.set_sidedata(item, move=True)
                if dts is not None and last_dts is not None and dts <= last_dts:
                    pts, dts = (last_dts + 1 if pts == dts else pts), last_dts + 1
                    if pts is not None and dts > pts:
                        raise OutputError(
                            f"the segments of {output.name} cannot be joined: their timestamps overlap",
                            hint="run again with --no-resume",
                        )
                packet.pts, packet.dts, packet.duration = pts, dts, duration or 0
                packet.is_keyframe = bool(keyframe)
                packet.time_base = record.time_base
                last_dts = dts if dts is not None else last_dts
                yield packet
