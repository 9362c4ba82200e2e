"""What evaluate's and bench's JSON record of the machine and the software (environment.py)."""

from __future__ import annotations

from importlib import metadata

from deblur_cli.environment import _cpu_model, environment


def test_the_releases_and_the_processor_are_named(tmp_path):
    import torch

    found = environment(["cpu"])
    assert found["torch"] == torch.__version__ and found["av"] == metadata.version("av")
    assert "gpus" not in found  # no CUDA device ran anything
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\nflags\t: sse2\n")
    assert _cpu_model(cpuinfo) == "AMD EPYC 9B14"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 48.00\n")  # Arm names no model there
    assert _cpu_model(cpuinfo) is None and _cpu_model(tmp_path / "missing") is None


def test_a_checkout_names_its_commit_read_from_git_s_files(tmp_path):
    """Found by review (install53 6): the version is 0.1.0 from commit to commit, so a bug report's `deblur
    --version` could not tell which code ran; a checkout names its commit, an installed release none."""
    from deblur_cli.environment import commit_of

    commit, other = "1f" * 20, "2e" * 20
    repo = tmp_path / "repo"
    (repo / "deblur_cli").mkdir(parents=True)
    assert commit_of(repo / "deblur_cli") is None  # no .git: an installed release
    git = repo / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(commit + "\n")
    assert commit_of(repo / "deblur_cli") == commit[:12]
    (git / "refs" / "heads" / "main").unlink()  # `git gc` packs the refs into one file
    packed = f"# pack-refs with: peeled fully-peeled sorted\n{other} refs/heads/x\n{commit} refs/heads/main\n"
    (git / "packed-refs").write_text(packed)
    assert commit_of(repo / "deblur_cli") == commit[:12]
    (git / "HEAD").write_text(other + "\n")  # a detached head
    assert commit_of(repo / "deblur_cli") == other[:12]
    # a worktree: .git is a file naming its folder in the main .git, whose refs are shared (commondir)
    tree = tmp_path / "tree"
    (tree / "deblur_cli").mkdir(parents=True)
    (git / "worktrees" / "tree").mkdir(parents=True)
    (tree / ".git").write_text(f"gitdir: {git / 'worktrees' / 'tree'}\n")
    (git / "worktrees" / "tree" / "HEAD").write_text("ref: refs/heads/x\n")
    (git / "worktrees" / "tree" / "commondir").write_text("../..\n")
    assert commit_of(tree / "deblur_cli") == other[:12]
    (git / "HEAD").write_text("ref: refs/heads/gone\n")  # a ref found nowhere
    assert commit_of(repo / "deblur_cli") is None
