"""Shared fixtures: the real test slides and small generated demo slides (helpers the tests import are in
helpers.py)."""

import pytest

from helpers import CMU, TCGA, require_shared_data, write_small_slide


@pytest.fixture(scope="session")
def real_slides():
    require_shared_data()
    return {"cmu": CMU, "tcga": TCGA}


@pytest.fixture(scope="session")
def tumor_slide(tmp_path_factory):
    return write_small_slide(tmp_path_factory.mktemp("tumor_slide"), label="tumor", artefacts=False)


@pytest.fixture(scope="session")
def normal_slide(tmp_path_factory):
    return write_small_slide(tmp_path_factory.mktemp("normal_slide"), label="normal", slide_id="demo_normal")
