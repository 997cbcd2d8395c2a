"""Input expansion and output naming (audiosplat.app.inputs), and MusicNet segment planning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audiosplat.app.inputs import Input, expand_inputs, names_many, output_paths
from audiosplat.app.musicnet import labels_in, parse_segments, segment_starts
from audiosplat.core.errors import AudiosplatError
from audiosplat.io.audio import AUDIO_SUFFIXES


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_folders_expand_recursively_sorted_by_suffix(tmp_path):
    _touch(tmp_path, "b.wav", "a.FLAC", "sub/c.ogg", "sub/deeper/d.mp3", "notes.txt", "x.splat", ".hidden.wav.tmp", ".e.wav")
    found = expand_inputs([str(tmp_path)], suffixes=AUDIO_SUFFIXES)
    assert [i.relative for i in found] == [Path("a.FLAC"), Path("b.wav"), Path("sub/c.ogg"), Path("sub/deeper/d.mp3")]
    assert all(i.path == tmp_path / i.relative for i in found)


def test_glob_overrides_the_suffixes(tmp_path):
    _touch(tmp_path, "a.wav", "b.wav", "sub/take-1.wav", "take-2.flac")
    found = expand_inputs([str(tmp_path)], suffixes=AUDIO_SUFFIXES, glob="take-*")
    assert [i.relative for i in found] == [Path("sub/take-1.wav"), Path("take-2.flac")]


def test_stdin_paths_and_plain_files_keep_their_names(tmp_path):
    _touch(tmp_path, "d/a.wav")
    found = expand_inputs(["x/y.wav", "-"], suffixes=AUDIO_SUFFIXES, stdin_text="\n one/two.wav \n\nthree.ogg\n")
    assert found == [Input(Path("x/y.wav"), Path("y.wav")), Input(Path("one/two.wav"), Path("two.wav")), Input(Path("three.ogg"), Path("three.ogg"))]


def test_empty_folder_or_stdin_is_an_error(tmp_path):
    _touch(tmp_path, "notes.txt")
    with pytest.raises(AudiosplatError, match="no files"):
        expand_inputs([str(tmp_path)], suffixes=AUDIO_SUFFIXES)
    with pytest.raises(AudiosplatError, match="stdin"):
        expand_inputs(["-"], suffixes=AUDIO_SUFFIXES, stdin_text="\n\n")


def test_what_makes_a_batch(tmp_path):
    assert not names_many(["a.wav"])
    assert names_many(["a.wav", "b.wav"]) and names_many(["-"]) and names_many([str(tmp_path)])


def test_batch_outputs_mirror_the_tree(tmp_path):
    inputs = [Input(Path("in/a.wav"), Path("a.wav")), Input(Path("in/sub/b.flac"), Path("sub/b.flac"))]
    out = tmp_path / "out"
    assert output_paths(inputs, out, suffix=".splat", many=True) == [out / "a.splat", out / "sub" / "b.splat"]


def test_one_file_writes_to_o_or_into_it(tmp_path):
    one = [Input(Path("in/a.wav"), Path("a.wav"))]
    assert output_paths(one, tmp_path / "x.splat", suffix=".splat", many=False) == [tmp_path / "x.splat"]
    assert output_paths(one, tmp_path, suffix=".splat", many=False) == [tmp_path / "a.splat"]


def test_clashing_outputs_and_a_file_as_folder_are_refused(tmp_path):
    clash = [Input(Path("x/a.wav"), Path("a.wav")), Input(Path("y/a.flac"), Path("a.flac"))]
    with pytest.raises(AudiosplatError, match="both write"):
        output_paths(clash, tmp_path, suffix=".splat", many=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(AudiosplatError, match="must be a folder"):
        output_paths(clash[:1], tmp_path / "file", suffix=".splat", many=True)


def test_segment_choices():
    rng = np.random.default_rng(0)
    assert segment_starts(10_000, 4096, 4096, parse_segments("all"), rng) == [0, 4096]
    assert segment_starts(100, 4096, 4096, parse_segments("all"), rng) == [0]  # shorter: one padded segment
    assert segment_starts(65536, 4096, 8192, parse_segments("3"), rng) == [0, 8192, 16384]
    chosen = segment_starts(65536, 4096, 4096, parse_segments("random:5"), np.random.default_rng(1))
    assert len(set(chosen)) == 5 and chosen == sorted(chosen) and all(s % 4096 == 0 for s in chosen)
    assert chosen == segment_starts(65536, 4096, 4096, parse_segments("random:5"), np.random.default_rng(1))
    for bad in ("some", "0", "random", "random:x", "-3"):
        with pytest.raises(AudiosplatError, match="--segments"):
            parse_segments(bad)


def test_labels_in_keeps_overlapping_notes_with_relative_times():
    notes = {
        "onset_s": np.array([0.0, 0.9, 1.5, 2.5]), "offset_s": np.array([1.0, 1.2, 2.0, 3.0]),
        "note": np.array([60, 61, 62, 63]), "note_value": np.array(["Quarter", "Eighth", "Half", "Whole"], dtype=object),
    }
    chosen = labels_in(notes, 1.0, 1.0)  # [1, 2): the first ends at 1.0 exactly, the last starts after
    assert chosen["note"].tolist() == [61, 62] and chosen["note_value"].tolist() == ["Eighth", "Half"]
    np.testing.assert_allclose(chosen["onset_s"], [-0.1, 0.5])
    np.testing.assert_allclose(chosen["offset_s"], [0.2, 1.0])
