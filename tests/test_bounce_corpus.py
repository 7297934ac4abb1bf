"""The bounce corpus holds to its own manifest (tests/bounce_corpus.py); no parser is involved."""
from __future__ import annotations

import email
import email.policy
from collections import Counter, defaultdict

import pytest

from tests.bounce_corpus import KINDS, ROOT, SAMPLES, read

NOT_SAMPLES = {"README.md", "LICENSE"}


def _ids(samples):
    return [s.path for s in samples]


def test_paths_are_unique():
    assert [p for p, n in Counter(s.path for s in SAMPLES).items() if n > 1] == []


def test_every_file_in_the_corpus_is_listed():
    on_disk = {
        str(p.relative_to(ROOT))
        for folder in ROOT.iterdir() if folder.is_dir()
        for p in folder.iterdir() if p.is_file() and p.name not in NOT_SAMPLES
    }
    listed = {s.path for s in SAMPLES}
    assert sorted(on_disk - listed) == []
    assert sorted(listed - on_disk) == []


def test_every_folder_says_where_its_samples_came_from():
    for folder in ROOT.iterdir():
        if folder.is_dir():
            assert (folder / "README.md").is_file(), folder


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_sample_exists_and_parses(sample):
    raw = read(sample)
    assert raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        part.get_content_type()
        for name in part.keys():
            part.get_all(name)


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_sample_fields_are_well_formed(sample):
    assert sample.kind in KINDS
    assert sample.source and sample.mta
    assert all(a == a.lower() and "@" in a for a in sample.addresses)
    assert len(set(sample.addresses)) == len(sample.addresses)
    if sample.kind == "none":
        assert sample.addresses == ()
        assert not sample.redacted
    elif sample.redacted:
        assert sample.kind == "complaint" and sample.addresses == ()
    else:
        assert sample.addresses, "a bounce or unredacted complaint names who it is about"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.addresses],
                         ids=_ids(s for s in SAMPLES if s.addresses))
def test_listed_addresses_occur_in_the_message(sample):
    raw = read(sample).lower()
    for address in sample.addresses:
        assert address.encode() in raw, address


@pytest.mark.parametrize("kind", ["hard", "soft", "complaint", "none"])
def test_each_kind_comes_from_several_producers(kind):
    producers = defaultdict(set)
    for s in SAMPLES:
        producers[s.kind].add(s.mta)
    assert len(producers[kind]) >= 3, producers[kind]
