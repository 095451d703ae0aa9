import os

import pytest

from cnnlab.data import verify
from cnnlab.errors import ChecksumError, DataError

from .conftest import md5_of, sha256_of


@pytest.fixture
def folder(tmp_path, cache_dir):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"hello world")
    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00\x01\x02" * 100)
    return tmp_path


def flip_byte(path, offset=5):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    # Same size, and an mtime in the future: a record keyed on (size, mtime) must not hide it.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_official_checksums_pass_and_flipped_byte_names_file_and_both_sums(folder):
    official = {"a.bin": md5_of(folder / "a.bin")}
    checks = verify.check_files(folder, official)
    assert [c.ok for c in checks] == [True]
    assert checks[0].expected.source == verify.OFFICIAL
    flip_byte(folder / "a.bin")
    checks = verify.check_files(folder, official)
    with pytest.raises(ChecksumError) as info:
        verify.require_ok(checks, "Download it again.")
    message = str(info.value)
    assert str(folder / "a.bin") in message
    assert official["a.bin"] in message and md5_of(folder / "a.bin") in message
    assert "Download it again." in message


def test_manifest_takes_precedence_and_is_reported_as_local(folder):
    (folder / "SHA256SUMS").write_text(
        f"{sha256_of(folder / 'a.bin')}  a.bin\n{sha256_of(folder / 'sub' / 'b.bin')} *./sub/b.bin\n"
    )
    official = {"a.bin": "0" * 32, "sub/b.bin": "0" * 32}  # would fail: the manifest wins
    checks = verify.check_files(folder, official)
    assert all(c.ok for c in checks)
    assert verify.verification_label({c.expected.source for c in checks}) == verify.LOCAL_MANIFEST
    assert {c.expected.algorithm for c in checks} == {"sha256"}


def test_bad_manifest_line_names_file_and_line(folder):
    (folder / "SHA256SUMS").write_text(f"{sha256_of(folder / 'a.bin')}  a.bin\nnot a checksum line\n")
    with pytest.raises(
        DataError, match=r"SHA256SUMS, line 2, is not a sha256sum line: 'not a checksum line'"
    ):
        verify.check_files(folder, {"a.bin": None})


def test_recorded_checksum_is_reused_until_the_file_changes(folder, monkeypatch):
    official = {"a.bin": md5_of(folder / "a.bin")}
    verify.require_ok(verify.check_files(folder, official), "")
    hashed = []
    real_digest = verify.file_digest
    monkeypatch.setattr(
        verify, "file_digest", lambda path, alg: hashed.append(path) or real_digest(path, alg)
    )
    assert verify.check_files(folder, official)[0].ok
    assert hashed == []  # unchanged size and mtime: the record is trusted
    assert verify.check_files(folder, official, reuse_records=False)[0].ok
    assert hashed == [folder / "a.bin"]
    flip_byte(folder / "a.bin")
    assert not verify.check_files(folder, official)[0].ok
    assert len(hashed) == 2


def test_verification_label():
    assert verify.verification_label({verify.OFFICIAL}) == "official"
    assert verify.verification_label({verify.OFFICIAL, verify.LOCAL_MANIFEST}) == "local manifest"
    assert verify.verification_label(set()) == "unverified"
