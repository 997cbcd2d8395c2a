"""Which files a command works on, and where each one's output goes.

Inputs are paths, folders (every matching file below them, recursively, sorted) and `-`
(paths read from stdin, one a line, or NUL-separated with `--null`). With several inputs, a folder or `-`, `-o` is a
folder and the tree below each given folder is mirrored in it; with one plain file, `-o` is
the output file (or a folder to put it in). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audiosplat.core.errors import AudiosplatError, UsageError

SPLAT_SUFFIXES = frozenset({".splat"})
STDIN = "-"


@dataclass(frozen=True)
class Input:
    """One file to work on; `relative` is where its output goes below the output folder."""

    path: Path
    relative: Path


def expand_inputs(args: list[str], *, suffixes: frozenset[str], glob: str | None = None, stdin_text: str = "", null: bool = False) -> list[Input]:
    """The files named by `args`: plain paths as given (even with another suffix: the
    command will say what is wrong with them), folders expanded to the files below them
    whose suffix is in `suffixes` (or that match `glob`), `-` to the paths in `stdin_text`
    (one a line, or with `null` NUL-separated, so names may hold newlines).

    Raises AudiosplatError for a folder with no matching file or an empty `-`, UsageError
    for a glob that could reach outside its folder.
    """
    if glob is not None:
        check_glob(glob)
    found: list[Input] = []
    for arg in args:
        if arg == STDIN:
            paths = [Path(name) for name in stdin_text.split("\0")] if null else [Path(line.strip()) for line in stdin_text.splitlines()]
            paths = [p for p in paths if str(p) not in ("", ".")]
            if not paths:
                raise AudiosplatError("-: no paths on stdin (give one path per line, or NUL-separated with --null)")
            found += [Input(p, Path(p.name)) for p in paths]
        elif Path(arg).is_dir():
            found += _folder_inputs(Path(arg), suffixes, glob)
        else:
            found.append(Input(Path(arg), Path(Path(arg).name)))
    return found


def check_glob(glob: str) -> None:
    """Refuse a --glob that could name files outside its folder (their outputs would land
    outside the output folder too)."""
    if Path(glob).is_absolute() or ".." in Path(glob).parts:
        raise UsageError(f"--glob {glob}: a pattern must stay below the folder it searches (no leading / and no ..)")


def _folder_inputs(folder: Path, suffixes: frozenset[str], glob: str | None) -> list[Input]:
    if glob is None:
        files = [p for p in folder.rglob("*") if p.suffix.lower() in suffixes]
    else:
        files = list(folder.rglob(glob))
    files = sorted(p for p in files if p.is_file() and not p.name.startswith("."))  # hidden: our temp files
    if not files:
        wanted = f"matching {glob}" if glob is not None else f"with a suffix in {', '.join(sorted(suffixes))}"
        raise AudiosplatError(f"{folder}: no files {wanted} in this directory")
    return [Input(p, p.relative_to(folder)) for p in files if ".." not in p.relative_to(folder).parts]


def names_many(args: list[str]) -> bool:
    """Whether `args` ask for a batch (several inputs, a folder or `-`): -o is then a folder."""
    return len(args) != 1 or args[0] == STDIN or Path(args[0]).is_dir()


def output_paths(inputs: list[Input], output: Path, *, suffix: str, many: bool) -> list[Path]:
    """Each input's output: in a batch, `output`/<relative path with `suffix`>; for one
    plain file, `output` itself, or <name with `suffix`> in it when it is a folder."""
    if not many:
        return [output / inputs[0].relative.with_suffix(suffix).name if output.is_dir() else output]
    if output.exists() and not output.is_dir():
        raise AudiosplatError(f"{output}: with several inputs, -o must be a folder")
    paths = [output / i.relative.with_suffix(suffix) for i in inputs]
    seen: dict[Path, Path] = {}
    for i, path in zip(inputs, paths):
        if path in seen:
            raise AudiosplatError(f"{i.path} and {seen[path]} would both write {path}; give them in different folders")
        seen[path] = i.path
    return paths


def check_writes(writes: list[Path | None], reads: list[Path | None]) -> None:
    """Refuse a command that would write over a file it reads, or write one path twice
    (e.g. --report naming an input or the output). None and `-` (stdout) are skipped.

    Raises UsageError naming both paths.
    """
    read = {_identity(p): p for p in reads if p is not None and str(p) != STDIN}
    written: dict[object, Path] = {}
    for path in writes:
        if path is None or str(path) == STDIN:
            continue
        key = _identity(path)
        if key in read:
            raise UsageError(f"{path}: would overwrite the input {read[key]}; choose another path")
        if key in written:
            raise UsageError(f"{path}: named twice as an output (also {written[key]}); choose another path")
        written[key] = Path(path)


def _identity(path: Path) -> object:
    """What makes two paths the same file: device and inode where it exists, else the
    absolute path with links resolved."""
    try:
        st = Path(path).stat()
    except OSError:
        return Path(path).resolve()
    return (st.st_dev, st.st_ino)


def check_output_path(output: Path, *, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite an input or whose folder does not exist."""
    output = Path(output)
    if output.exists() and _identity(output) in {_identity(Path(s)) for s in inputs if Path(s).exists()}:
        raise AudiosplatError(f"{output}: output is the same file as the input; choose another path")
    if output.is_dir():
        raise AudiosplatError(f"{output}: is a directory; give a file path for the output")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise AudiosplatError(f"{output}: the output folder {parent} does not exist")
