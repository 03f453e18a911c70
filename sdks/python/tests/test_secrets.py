from __future__ import annotations

import datetime

import pytest

import scaivault
from scaivault import models


def test_write_read_patch_versions_metadata(client: scaivault.Client, unique: str) -> None:
    path = f"{unique}/app/db"
    first = client.secrets.write(
        path,
        {"username": "app", "password": "p1"},
        metadata={"description": "db", "tags": ["prod", "db"], "owner": "team-a"},
        options={"max_versions": 5},
    )
    assert isinstance(first, models.WriteResult)
    assert (first.path, first.version, first.created) == (path, 1, True)
    second = client.secrets.write(path, {"username": "app", "password": "p2"})
    assert (second.version, second.created, second.previous_version) == (2, False, 1)

    secret = client.secrets.read(path)
    assert secret.data == {"username": "app", "password": "p2"}
    assert secret.version == 2
    assert secret.secret_type == "kv"
    assert secret.metadata.tags == ["prod", "db"]
    assert isinstance(secret.created_at, datetime.datetime)
    assert secret.created_at.tzinfo is not None
    assert client.secrets.read(path, version=1).data["password"] == "p1"

    versions = client.secrets.versions(path)
    assert [v.version for v in versions] == [2, 1]
    assert versions[0].is_current and not versions[1].is_current

    info = client.secrets.patch(path, metadata={"description": "primary db", "tags": ["x"]})
    assert isinstance(info, models.SecretInfo)
    assert info.metadata.description == "primary db"
    info = client.secrets.metadata(path)
    assert (info.current_version, info.version_count, info.max_versions) == (2, 2, 5)
    assert info.metadata.tags == ["x"]


def test_secret_types_and_if_match(client: scaivault.Client, unique: str) -> None:
    path = f"{unique}/json"
    client.secrets.write(path, {"nested": {"a": [1, 2]}}, secret_type="json")
    current = client.secrets.read(path)
    assert current.secret_type == "json"
    assert current.data == {"nested": {"a": [1, 2]}}
    updated = client.secrets.write(path, {"nested": {}}, if_match=current.version)
    assert updated.version == current.version + 1
    with pytest.raises(scaivault.VersionConflictError) as caught:
        client.secrets.write(path, {"stale": True}, if_match=current.version)
    assert caught.value.status == 409 and caught.value.code == "version_conflict"
    with pytest.raises(scaivault.VersionConflictError):
        client.secrets.write(path, {"x": 1}, if_none_match=True)


def test_list_follows_cursors(client: scaivault.Client, unique: str) -> None:
    for i in range(5):
        client.secrets.write(f"{unique}/page/s{i}", {"v": str(i)}, metadata={"tags": ["paged"]})
    client.secrets.write(f"{unique}/other", {"v": "x"})
    listed = list(client.secrets.list(prefix=f"{unique}/page/", limit=2))
    assert [s.path for s in listed] == [f"{unique}/page/s{i}" for i in range(5)]
    assert all(isinstance(s, models.SecretSummary) for s in listed)
    # A lazy iterator: the first item without fetching every page.
    first = next(iter(client.secrets.list(prefix=f"{unique}/page/", limit=2)))
    assert first.path == f"{unique}/page/s0"
    tagged = list(client.secrets.list(prefix=unique, tags=["paged"], include_metadata=True))
    assert len(tagged) == 5 and tagged[0].created_at is not None


def test_delete_restore_permanent(client: scaivault.Client, unique: str) -> None:
    path = f"{unique}/gone"
    client.secrets.write(path, {"a": "1"})
    client.secrets.write(path, {"a": "2"})
    client.secrets.write(path, {"a": "3"})
    client.secrets.delete(path, version=1)
    assert [v.version for v in client.secrets.versions(path)] == [3, 2]
    client.secrets.delete(path)
    with pytest.raises(scaivault.NotFoundError) as caught:
        client.secrets.read(path)
    assert caught.value.code == "secret_not_found"
    with pytest.raises(scaivault.ConflictError) as conflict:
        client.secrets.write(path, {"a": "4"})
    assert conflict.value.code == "secret_exists"
    restored = client.secrets.restore(path)
    assert restored.restored and restored.current_version == 3
    assert client.secrets.read(path).data == {"a": "3"}
    client.secrets.delete(path, permanent=True)
    with pytest.raises(scaivault.NotFoundError):
        client.secrets.metadata(path)


def test_rotate_and_expiring(client: scaivault.Client, unique: str) -> None:
    path = f"{unique}/rot"
    client.secrets.write(path, {"key": "old"})
    rotated = client.secrets.rotate(path, {"key": "new"}, reason="test", grace_period="1h")
    assert (rotated.version, rotated.previous_version) == (2, 1)
    assert rotated.previous_version_retires_at > rotated.rotated_at
    assert client.secrets.read(path).data == {"key": "new"}
    assert client.secrets.read(path, version=1).data == {"key": "old"}
    assert client.secrets.versions(path)[1].retires_at is not None

    client.secrets.write(f"{unique}/exp/soon", {"a": "1"}, options={"expires_in": "2d"})
    client.secrets.write(f"{unique}/exp/late", {"a": "1"}, options={"expires_in": "20d"})
    soon = list(client.secrets.expiring(7, prefix=f"{unique}/exp/"))
    assert [(e.path, e.days_remaining) for e in soon] == [(f"{unique}/exp/soon", 2)]
    both = list(client.secrets.expiring(30, prefix=f"{unique}/exp/", limit=1))
    assert [e.path for e in both] == [f"{unique}/exp/soon", f"{unique}/exp/late"]


def test_paths_are_encoded_and_dot_segments_refused(
    client: scaivault.Client, unique: str
) -> None:
    path = f"{unique}/ünï/çödé@x+y"
    client.secrets.write(path, {"a": "1"})
    assert client.secrets.read(path).path == path
    assert [s.path for s in client.secrets.list(prefix=f"{unique}/ünï/")] == [path]
    with pytest.raises(scaivault.ScaiVaultError) as caught:
        client.secrets.read(f"{unique}/../x")
    assert caught.value.code == "invalid_path"
