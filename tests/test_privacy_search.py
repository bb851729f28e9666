"""The identifier search finds exactly what a whole-token regular expression finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.privacy import find_identifiers

settings.register_profile("search", max_examples=200, derandomize=True, deadline=None,
                          database=None)


def regex_oracle(text: str, ids) -> list[str]:
    """One alternation per value with ASCII letter/digit boundaries: slow, but obviously right."""
    body = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)
    keep = set()
    for v in ids:
        s = str(v).strip()
        if not s or (s.isdigit() and len(s) < 5) or len(s) < 3:
            continue
        if re.search(r"(?<![A-Za-z0-9])" + re.escape(s) + r"(?![A-Za-z0-9])", body):
            keep.add(s)
    return sorted(keep)


ID_CHARS = st.sampled_from(list("AB7-09 x._é#"))
ids_st = st.lists(st.text(ID_CHARS, min_size=1, max_size=8), min_size=0, max_size=12)


@settings(settings.get_profile("search"))
@given(ids=ids_st, filler=st.lists(st.text(st.sampled_from(list("ab 9-<>/.\n")), max_size=6),
                                   max_size=12), data=st.data())
def test_search_equals_the_regex_oracle(ids, filler, data):
    pieces = []
    for f in filler:
        pieces.append(f)
        if ids and data.draw(st.booleans()):
            pieces.append(data.draw(st.sampled_from(ids)))
    text = "".join(pieces)
    assert find_identifiers(text, ids) == regex_oracle(text, ids)


def test_embedded_images_overlapping_ids_and_prefixes():
    ids = ["ABC-1234", "ABC-12345", "ZZ9 ZZ", "00042"]
    text = ("<img src='data:image/png;base64,QUJDLTEyMzQ='> id ABC-12345, not XABC-1234 "
            "nor ABC-1234Z; ZZ9 ZZ; 42 is not 00042x but (00042) is")
    assert find_identifiers(text, ids) == ["00042", "ABC-12345", "ZZ9 ZZ"]
