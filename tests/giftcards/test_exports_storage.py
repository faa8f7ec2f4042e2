"""Where export files go: a private folder by default, S3 (or an S3-compatible store) when
EXPORTS_STORAGE=s3, configured from the environment alone (no S3 is reached here)."""

from __future__ import annotations

import json

from giftcards_project.production_checks import EX_CONFIG
from tests.test_settings import manage

SHOW = (
    "import json; from django.core.files.storage import storages; s = storages['exports']; "
    "print(json.dumps({'class': type(s).__name__, 'bucket': getattr(s, 'bucket_name', None), "
    "'endpoint': getattr(s, 'endpoint_url', None), 'region': getattr(s, 'region_name', None), "
    "'prefix': getattr(s, 'location', None), 'acl': getattr(s, 'default_acl', None), "
    "'overwrite': getattr(s, 'file_overwrite', None), 'key': getattr(s, 'access_key', None), "
    "'name': s._normalize_name('7/abc/tok.csv') if hasattr(s, '_normalize_name') else None, "
    "'mode': getattr(s, 'file_permissions_mode', None)}))"
)


def shown(tmp_path, **env) -> dict:
    result = manage(tmp_path, "shell", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_by_default_exports_are_files_readable_by_their_owner_only(tmp_path):
    found = shown(tmp_path, EXPORTS_ROOT=str(tmp_path / "files"))

    assert found["class"] == "FileSystemStorage"
    assert found["prefix"] == str(tmp_path / "files")
    assert found["mode"] == 0o600


def test_s3_is_configured_from_the_environment(tmp_path):
    found = shown(
        tmp_path,
        EXPORTS_STORAGE="s3",
        EXPORTS_S3_BUCKET="giftcard-exports",
        EXPORTS_S3_ENDPOINT_URL="https://minio.internal:9000",
        EXPORTS_S3_REGION="eu-west-1",
        EXPORTS_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        EXPORTS_S3_SECRET_ACCESS_KEY="secret",
        EXPORTS_S3_PREFIX="gc/exports",
    )

    assert found == {
        "class": "S3Storage",
        "bucket": "giftcard-exports",
        "endpoint": "https://minio.internal:9000",
        "region": "eu-west-1",
        "prefix": "gc/exports",
        "acl": "private",
        "overwrite": True,
        "key": "AKIAEXAMPLE",
        "name": "gc/exports/7/abc/tok.csv",
        "mode": None,
    }


def test_s3_without_a_bucket_refuses_to_start_with_one_line(tmp_path):
    result = manage(tmp_path, "check", EXPORTS_STORAGE="s3")

    assert result.returncode == EX_CONFIG
    assert result.stderr.strip() == "EXPORTS_STORAGE=s3 needs EXPORTS_S3_BUCKET."


def test_an_unknown_storage_refuses_to_start(tmp_path):
    result = manage(tmp_path, "check", EXPORTS_STORAGE="ftp")

    assert result.returncode == EX_CONFIG
    assert "EXPORTS_STORAGE must be filesystem or s3, not 'ftp'." in result.stderr
