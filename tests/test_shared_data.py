"""The shared-data guard: skip on a user's machine, fail in CI."""

import conftest
import pytest

pytestmark = conftest.backend_independent


def test_a_test_not_marked_large_may_not_read_shared_data(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="reads ../shared/data but is not marked large"):
        conftest.shared_data()


@pytest.mark.large
def test_missing_data_skips_or_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path / "missing")
    monkeypatch.delenv("KERAS_ELECTRA_REQUIRE_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared data not found at .*missing"):
        conftest.shared_data("corpus")
    monkeypatch.setenv("KERAS_ELECTRA_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="shared data not found at .*missing"):
        conftest.shared_data("corpus")
