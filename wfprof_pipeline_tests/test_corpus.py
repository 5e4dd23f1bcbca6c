"""Step discovery and the step_sources rows: layout, exclusions, and every bad input the foundation names."""

import hashlib
from pathlib import Path

import pytest

from wfprof_pipeline.lib.corpus import CorpusError, discover, require_steps, source_row


def write(root: Path, rel: str, text: str | bytes = "export const x = 1;\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_discovers_both_layouts_and_skips_tests_specs_and_declarations(tmp_path: Path) -> None:
    write(tmp_path, "plugins/web3/steps/check-balance.ts")
    write(tmp_path, "keeperhub/plugins/slack/steps/send-message.tsx")
    write(tmp_path, "plugins/web3/steps/check-balance.test.ts")
    write(tmp_path, "plugins/web3/steps/check-balance.spec.js")
    write(tmp_path, "plugins/web3/steps/types.d.ts")
    write(tmp_path, "plugins/web3/steps/README.md")
    write(tmp_path, "plugins/web3/lib/helper.ts")  # not under steps/
    files = discover(tmp_path)
    assert [(f.plugin, f.step, f.rel, f.language) for f in files] == [
        ("slack", "send-message", "keeperhub/plugins/slack/steps/send-message.tsx", "tsx"),
        ("web3", "check-balance", "plugins/web3/steps/check-balance.ts", "typescript"),
    ]


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        discover(tmp_path / "nope")


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    with pytest.raises(CorpusError, match="no step files"):
        require_steps(tmp_path)


def test_source_row_counts_lines_like_the_seed_and_hashes_bytes(tmp_path: Path) -> None:
    f = discover_one(tmp_path, "a\nb\n")
    row = source_row(f)
    assert (row.lines, row.bytes, row.error) == (3, 4, None)  # newline count + 1
    assert row.sha256 == hashlib.sha256(b"a\nb\n").hexdigest()


def test_invalid_utf8_and_empty_files_still_yield_rows(tmp_path: Path) -> None:
    write(tmp_path, "plugins/p/steps/bad.ts", b"\xff\xfe\x00const x = 1;\n")
    write(tmp_path, "plugins/p/steps/empty.ts", b"")
    rows = {f.step: source_row(f) for f in discover(tmp_path)}
    assert rows["bad"].error is None and rows["bad"].lines == 2
    assert rows["empty"].bytes == 0 and rows["empty"].lines == 1


def test_unreadable_file_is_a_row_with_an_error(tmp_path: Path, monkeypatch) -> None:
    # Root (CI) reads mode-000 files, so the permission error is injected at the one call that reads.
    path = write(tmp_path, "plugins/p/steps/secret.ts")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == path.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    (row,) = [source_row(f) for f in discover(tmp_path)]
    assert row.error == "unreadable: Permission denied" and row.sha256 is None


def test_dangling_symlink_is_skipped(tmp_path: Path) -> None:
    link = tmp_path / "plugins/p/steps/gone.ts"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "missing-target.ts")
    assert discover(tmp_path) == []  # not a file: skipped, not a crash


def test_symlink_loop_does_not_trap_discovery(tmp_path: Path) -> None:
    write(tmp_path, "plugins/p/steps/ok.ts")
    (tmp_path / "plugins/p/steps/loop").symlink_to(tmp_path / "plugins", target_is_directory=True)
    (tmp_path / "plugins/loop").symlink_to(tmp_path / "plugins", target_is_directory=True)
    assert [f.step for f in discover(tmp_path)] == ["ok"]


def discover_one(root: Path, text: str):
    write(root, "plugins/p/steps/s.ts", text)
    (f,) = discover(root)
    return f
