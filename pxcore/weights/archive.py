"""Safe unpacking of a .tar/.tar.gz/.tgz weight archive (the zoo's downloads)."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsError


def extract_archive(path: Path, dest: Path) -> Path:
    """Unpack a .tar/.tar.gz/.tgz safely (no absolute paths, no '..', no links, no
    devices) and return the directory that holds the weights."""
    import tarfile

    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as exc:
        raise WeightsError(f"{path}: not a readable tar archive ({exc})") from exc
    with archive:
        members = []
        for member in archive.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise WeightsError(f"{path}: refused: member {member.name!r} points outside the archive")
            if not (member.isfile() or member.isdir()):
                raise WeightsError(f"{path}: refused: member {member.name!r} is a link or device")
            members.append(member)
        archive.extractall(dest, members=members)
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
