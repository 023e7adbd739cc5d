"""The dataset manifests in data_manifests/: they load, follow the schema of vadlib.data.manifests,
and say nothing they cannot back up (a direct download has a URL for every file; checksums have
the sha256 shape; citations are BibTeX entries)."""

from __future__ import annotations

import re

import pytest
import yaml

from vadlib.data.manifests import (ACCESS_KINDS, MANIFEST_DIR, REQUIRED_KEYS, all_manifests,
                                   load_manifest, manifest_names)

DATASETS = {
    "mot15", "mot16", "mot17", "jde_eth", "jde_citypersons", "jde_caltech", "jde_cuhksysu",
    "jde_prw", "mvtec_ad", "dtd", "brats", "avenue", "shanghaitech", "ucsd_ped2", "vad_tracks",
    "thermal_rare_event", "seasons_in_drift", "imagenet100", "intentional_fall", "dummy_fall",
}
# The documented keys in the order the schema lists them; extra keys may follow.
SCHEMA_ORDER = ("name", "title", "papers", "homepage", "licence", "access", "directory", "files",
                "steps", "layouts", "layout_tree", "splits", "thesis_protocol", "synthetic",
                "citation")
THESIS_PAPERS = {"A", "B", "C", "D", "E", "F"}
SHA256 = re.compile(r"[0-9a-f]{64}")
BIBTEX_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,")


def raw(name: str) -> dict:
    return yaml.safe_load((MANIFEST_DIR / f"{name}.yaml").read_text())


def test_the_manifests_are_exactly_the_datasets_of_the_companion():
    assert set(manifest_names()) == DATASETS


def test_every_manifest_loads():
    manifests = all_manifests()
    assert {manifest.name for manifest in manifests} == DATASETS


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_schema_keys_are_present_and_in_order(name):
    data = raw(name)
    missing = [key for key in (*REQUIRED_KEYS, "steps", "thesis_protocol", "synthetic")
               if key not in data]
    assert not missing, f"{name}: missing {missing}"
    documented = [key for key in data if key in SCHEMA_ORDER]
    assert documented == [key for key in SCHEMA_ORDER if key in data], f"{name}: key order"
    assert data["access"] in ACCESS_KINDS
    assert set(data["papers"] or []) <= THESIS_PAPERS
    assert data["homepage"].startswith(("http://", "https://"))
    for key in ("title", "licence", "directory", "layout_tree", "splits", "thesis_protocol"):
        assert isinstance(data[key], str) and data[key].strip(), f"{name}: empty {key}"


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_has_a_synthetic_twin(name):
    assert load_manifest(name).synthetic is True


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_direct_access_only_when_every_file_has_a_url(name):
    manifest = load_manifest(name)
    if manifest.access == "direct":
        assert manifest.files, f"{name}: direct access without files"
        for entry in manifest.files:
            assert entry.url.startswith(("http://", "https://")), f"{name}: {entry.name} has no URL"
            assert entry.name and "/" not in entry.name
            assert entry.strip >= 0
    else:
        assert not manifest.files, f"{name}: {manifest.access} access but files to fetch"
        assert manifest.steps.strip(), f"{name}: {manifest.access} access needs steps"


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_checksums_have_the_sha256_shape(name):
    manifest = load_manifest(name)
    for entry in manifest.files:
        if entry.sha256 is not None:
            assert SHA256.fullmatch(entry.sha256), f"{name}: {entry.name} sha256 {entry.sha256!r}"
            assert entry.hash_source, f"{name}: {entry.name} has a sha256 without its source"
        assert entry.size is None or (isinstance(entry.size, int) and entry.size > 0)
    for entry in raw(name).get("reference_archives") or []:
        if entry.get("sha256") is not None:
            assert SHA256.fullmatch(entry["sha256"])


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_layout_entries_have_relative_patterns(name):
    manifest = load_manifest(name)
    assert manifest.layouts, f"{name}: no layout"
    for variant, entries in manifest.layouts.items():
        assert entries, f"{name}: layout {variant} is empty"
        for entry in entries:
            assert isinstance(entry.pattern, str) and entry.pattern.strip()
            assert not entry.pattern.startswith(("/", "\\")) and ".." not in entry.pattern.split("/")
            assert entry.count is None or (isinstance(entry.count, int) and entry.count > 0)
            assert entry.what.strip(), f"{name}: {entry.pattern} has no description"


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_citation_is_bibtex_with_keys(name):
    citation = load_manifest(name).citation
    entries = BIBTEX_ENTRY.findall(citation)
    assert entries, f"{name}: no BibTeX entry"
    assert citation.count("@") == len(entries)
    assert citation.count("{") == citation.count("}"), f"{name}: unbalanced braces"
    for _kind, key in entries:
        assert re.fullmatch(r"[A-Za-z0-9_:.-]+", key)
