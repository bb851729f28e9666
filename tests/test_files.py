"""evalkit.files: the hash the manifest and the report appendix print."""

from evalkit.files import sha256_file
from evalkit.report import common


def test_sha256_matches_the_fips_180_2_example(tmp_path):
    # FIPS 180-2, appendix B.1: SHA-256("abc")
    p = tmp_path / "abc.txt"
    p.write_bytes(b"abc")
    want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(p) == want
    assert sha256_file(p, chunk=2) == want  # read in pieces: the same digest


def test_report_common_still_offers_the_same_function():
    assert common.sha256_file is sha256_file
