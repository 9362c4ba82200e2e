import errno

import pytest

from deblur_cli import files
from deblur_cli.errors import DiskFullError, OutputError


def test_a_file_written_through_a_path_is_renamed_into_place_whole(tmp_path):
    """`files.written` hands a writer that takes a path (np.save, torch.save, av.open) a hidden name beside
    the target, ending as the folder's readers expect, and renames it when the block ends."""
    target = tmp_path / "frames.npy"
    with files.written(target, suffix=".tmp.npy") as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".") and temp.name.endswith(".tmp.npy")
        temp.write_bytes(b"new")
        assert not target.exists()
    assert target.read_bytes() == b"new" and list(tmp_path.iterdir()) == [target]
    with files.written(tmp_path / "clip.mkv") as temp:
        assert temp.suffix == ".mkv"  # FFmpeg picks the container from it


def test_a_file_whose_write_fails_leaves_the_old_one_and_one_clear_error(tmp_path):
    target = tmp_path / "log.csv"
    target.write_bytes(b"old")
    with pytest.raises(DiskFullError, match=f"^disk full while writing {target}$") as caught:
        with files.written(target, hint="--resume continues") as temp:
            temp.write_bytes(b"part")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.hint == "free some space or write the output elsewhere; --resume continues"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C: raised as it is, the temporary file removed all the same
        with files.written(target) as temp:
            temp.write_bytes(b"part")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_a_file_in_a_folder_that_is_not_there_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with files.written(tmp_path / "missing" / "last.pt"):
            pytest.fail("the block ran without a file to write")


def test_the_longest_file_names_are_written_as_any_other(tmp_path):
    """A 250-byte name is legal (NAME_MAX is 255) though a temporary name beside it, hidden and with a
    random part, would be longer: every writer cuts the temporary name's stem, as `temp_name` does."""
    target = tmp_path / ("s" * 246 + ".png")
    files.check_writable(target)
    files.write_bytes(target, b"png", durable=True)
    with files.written(target.with_suffix(".npy")) as temp:
        temp.write_bytes(b"npy")
    assert target.read_bytes() == b"png" and sorted(p.name for p in tmp_path.iterdir()) == [
        target.with_suffix(".npy").name,
        target.name,
    ]
