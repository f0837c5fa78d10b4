"""PHOENIX-2014-T and PHOENIX-2014 (multisigner) readers: clips from the annotation CSVs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from signpose.model.clip import Clip
from signpose.errors import DatasetError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
FPS = 25.0
FRAMES_DIR = PurePosixPath("features/fullFrame-210x260px")

Listing = tuple[Path, dict[str, Iterable[Clip]]]
Row = dict[str, str]


@dataclass(frozen=True)
class _Variant:
    """What differs between the two PHOENIX releases."""

    title: str
    subfolder: str  # the dataset folder inside the release root
    csv_name: str  # with a {split} placeholder
    columns: tuple[str, ...]  # the columns the reader needs
    id_column: str
    make_clip: Callable[[Path, str, Row], Clip]

    def csv_path(self, base: Path, split: str) -> Path:
        return base / "annotations" / "manual" / self.csv_name.format(split=split)

    def find_base(self, root: Path) -> Path | None:
        """``root`` itself or its release subfolder, whichever holds annotation CSVs."""
        for base in (root, root / self.subfolder):
            if any(self.csv_path(base, split).is_file() for split in SPLITS):
                return base
        return None

    def read(self, root: Path) -> Listing:
        base = self.find_base(root)
        if base is None:
            expected = [self.csv_path(b, s) for b in (root, root / self.subfolder) for s in SPLITS]
            raise DatasetError(
                f"{root}: no {self.title} annotations found; expected one of "
                + ", ".join(str(path) for path in expected)
            )
        return base, {
            split: self._clips(base, split)
            for split in SPLITS
            if self.csv_path(base, split).is_file()
        }

    def _clips(self, base: Path, split: str) -> Iterator[Clip]:
        # A generator, so splits that are not selected, and rows past the caller's limit,
        # cost no parsing and no stat() of clip folders.
        csv = self.csv_path(base, split)
        split_dir = base.joinpath(*FRAMES_DIR.parts, split)
        for line_no, row in _read_rows(csv, self.columns):
            if not row[self.id_column].strip():
                raise DatasetError(f"{csv}, line {line_no}: empty {self.id_column!r} column")
            yield self.make_clip(split_dir, split, row)


def _read_rows(csv: Path, required: tuple[str, ...]) -> Iterator[tuple[int, Row]]:
    """The ``|``-separated rows of ``csv`` as dicts keyed by the header, with line numbers."""
    try:
        text = csv.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{csv}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"{csv}: cannot read ({exc.strerror or exc})") from None
    header: list[str] | None = None
    # split("\n"), not splitlines(): the latter also breaks on \x1c, \x85, \u2028 ... which
    # would silently cut a row of free text in two.
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("|")
        if header is None:
            header = [field.strip() for field in fields]
            missing = [column for column in required if column not in header]
            if missing:
                raise DatasetError(
                    f"{csv}, line {line_no}: header {line!r} lacks column(s) {', '.join(missing)}; "
                    f"expected {'|'.join(required)}"
                )
            continue
        if len(fields) != len(header):
            raise DatasetError(
                f"{csv}, line {line_no}: {len(fields)} '|'-separated columns, expected "
                f"{len(header)} ({'|'.join(header)})"
            )
        yield line_no, dict(zip(header, fields))
    if header is None:
        raise DatasetError(f"{csv}: empty file; expected a header {'|'.join(required)}")


def _pattern_dir(pattern: str) -> PurePosixPath | None:
    """The folder part of a CSV frame pattern such as ``<name>/1/*.png`` (relative, or None)."""
    path = PurePosixPath(pattern.strip().replace("\\", "/"))
    if any(char in path.name for char in "*?["):
        path = path.parent
    # Anchors and "." parts dropped so the folder always stays under the split folder's
    # join; ".." is passed through like any other id (refused later by the store if needed).
    parts = [part for part in path.parts if part not in ("/", ".")]
    return PurePosixPath(*parts) if parts else None


def _t_clip(split_dir: Path, split: str, row: Row) -> Clip:
    name = row["name"].strip()
    source = split_dir / name
    listed = _pattern_dir(row["video"])
    # The official CSV says <name>/1/*.png but the released frames sit in <name>/ directly:
    # trust the CSV only when its folder exists. A missing folder is still listed; the
    # worker reports it.
    if listed is not None and listed != PurePosixPath(name):
        candidate = split_dir.joinpath(*listed.parts)
        if candidate.is_dir():
            source = candidate
    return Clip(
        split=split,
        clip_id=name,
        source=source,
        kind="frames",
        signer=row["speaker"].strip(),
        gloss=row["orth"],
        translation=row["translation"],
        fps=FPS,
    )


def _multisigner_clip(split_dir: Path, split: str, row: Row) -> Clip:
    clip_id = row["id"].strip()
    listed = _pattern_dir(row["folder"]) or PurePosixPath(clip_id, "1")
    return Clip(
        split=split,
        clip_id=clip_id,
        source=split_dir.joinpath(*listed.parts),
        kind="frames",
        signer=row["signer"].strip(),
        gloss=row["annotation"],
        translation="",
        fps=FPS,
    )


PHOENIX_2014_T = _Variant(
    title="PHOENIX-2014-T",
    subfolder="PHOENIX-2014-T",
    csv_name="PHOENIX-2014-T.{split}.corpus.csv",
    columns=("name", "video", "speaker", "orth", "translation"),
    id_column="name",
    make_clip=_t_clip,
)

PHOENIX_2014 = _Variant(
    title="PHOENIX-2014 multisigner",
    subfolder="phoenix-2014-multisigner",
    csv_name="{split}.corpus.csv",
    columns=("id", "folder", "signer", "annotation"),
    id_column="id",
    make_clip=_multisigner_clip,
)

DESCRIPTION_2014_T = (
    "PHOENIX-2014-T-release-v3[/PHOENIX-2014-T]"
    "/annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv, "
    "frames in features/fullFrame-210x260px/<split>/<name>/"
)
DESCRIPTION_2014 = (
    "phoenix2014-release[/phoenix-2014-multisigner]/annotations/manual/{train,dev,test}.corpus.csv, "
    "frames in features/fullFrame-210x260px/<split>/<id>/1/"
)


def detect_2014_t(root: Path) -> bool:
    return PHOENIX_2014_T.find_base(root) is not None


def read_2014_t(root: Path) -> Listing:
    """Splits train, dev, test (those whose CSV exists), rows in CSV order, lazily."""
    return PHOENIX_2014_T.read(root)


def detect_2014(root: Path) -> bool:
    return PHOENIX_2014.find_base(root) is not None


def read_2014(root: Path) -> Listing:
    """Splits train, dev, test (those whose CSV exists), rows in CSV order, lazily."""
    return PHOENIX_2014.read(root)
