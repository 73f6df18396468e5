"""Every rule declares what schedulers and users need: log, threads, mem_mb, runtime, env; GPU rules gpu=1."""

import pytest

from helpers import rule_blocks

GPU_RULES = {
    "extract_features",
    "train_mil",
    "deploy_predictions",
    "train_classifier",
    "classify_tiles",
    "extract_region_features",
}
HEAVY_RULES = {
    "demo_slide",
    "tissue_mask",
    "tile_slide",
    "extract_features",
    "train_mil",
    "train_pu",
    "deploy_predictions",
    "heatmaps",
    "umap",
    "demo_patches",
    "train_classifier",
    "classify_tiles",
    "tile_class_figures",
    "extract_region_features",
}


RULES = {name: block for name, (_, block) in rule_blocks().items()}


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_declares_resources_log_and_env(name):
    block = RULES[name]
    for directive in ("log:", "threads:", "mem_mb=", "runtime=", "conda:"):
        assert directive in block, f"rule {name} lacks {directive}"
    assert ("gpu=1" in block or "gpu=IN.feature_gpus" in block) == (name in GPU_RULES), f"rule {name}: gpu resource"
    if name in HEAVY_RULES:
        assert "benchmark:" in block, f"heavy rule {name} has no benchmark"
