"""The rules' input functions (slidesnake.workflow.inputs) and the business rules behind them, without Snakemake."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from slidesnake.core.errors import ConfigError
from slidesnake.workflow import paths
from slidesnake.workflow.cohort import load_cohort, pu_enabled, spread
from slidesnake.workflow.config import default_config
from slidesnake.workflow.inputs import RuleInputs, expand
from slidesnake.workflow.sheet import source_kind


class Wildcards(SimpleNamespace):
    def items(self):
        return vars(self).items()


def demo_inputs(encoders=None) -> RuleInputs:
    features = {"slides_per_job": 4, "encoders": {"resnet18": {"weights": "random"}} if encoders is None else encoders}
    config = default_config(demo={"n_slides": 6, "new_slides": 2}, features=features)
    return RuleInputs(config, load_cohort(config))


def test_spread_keeps_first_and_last():
    slides = [f"s{k}" for k in range(10)]
    assert (
        spread(slides, 3) == ["s0", "s4", "s9"] and spread(slides, 1) == ["s0"] and spread(slides[:2], 5) == slides[:2]
    )


def test_source_kind():
    assert source_kind("https://host/a.svs") == "url" and source_kind("file:///data/a.svs") == "path"
    assert source_kind("C:/data/a.svs") == "path" and source_kind("slides/a.svs") == "path"


def test_pu_runs_for_its_task_when_every_positive_slide_is_annotated():
    inputs = demo_inputs()
    assert pu_enabled(inputs.config, inputs.cohort) and pu_enabled(inputs.config, inputs.cohort, "tumor")
    assert not pu_enabled(inputs.config, inputs.cohort, "another_task")
    slide, record = next((s, r) for s, r in inputs.cohort.train.items() if r.value("label") == "tumor")
    inputs.cohort.train[slide] = replace(record, annotation=None)
    assert not pu_enabled(inputs.config, inputs.cohort)


def test_shard_files_inputs_and_tables():
    inputs = demo_inputs()
    assert list(inputs.shards) == ["shard00000", "shard00001"] and len(inputs.shards["shard00001"]) == 4
    wildcards = Wildcards(encoder="enc", shard="shard00000")
    files = inputs.shard_files("tiles", "features", paths.FEATURE_SHARD_FILE)(wildcards)
    slide = inputs.shards["shard00000"][0]
    assert files[slide] == {
        "slide": inputs.slide_file(slide),
        "source": inputs.cohort.record(slide).source,
        "tiles": paths.fill(paths.TILES, slide=slide),
        "features": paths.fill(paths.FEATURE_SHARD_FILE, encoder="enc", shard="shard00000", slide=slide),
    }
    regions = inputs.shard_files("regions", "features", paths.REGION_FEATURE_SHARD_FILE, encoder=paths.REGION_ENCODER)(
        Wildcards(shard="shard00000")
    )
    assert regions[slide]["regions"] == paths.fill(paths.REGIONS, slide=slide)
    assert len(inputs.shard_inputs("tiles")(wildcards)) == 2 * 4
    last = inputs.shards["shard00001"][-1]
    assert inputs.shard_of_slide(paths.TILE_CLASS_SHARD)(Wildcards(classifier="c", slide=last)) == paths.fill(
        paths.TILE_CLASS_SHARD, classifier="c", shard="shard00001"
    )


def test_heatmap_sources_and_their_inputs():
    inputs = demo_inputs()
    assert inputs.heatmap_sources("tumor") == ["abmil", "pu", "new_abmil"]  # the demo's heatmap_sources: abmil, pu
    wildcards = Wildcards(task="tumor", source="new_abmil")
    assert inputs.heatmap_score_files(wildcards) == [paths.fill(paths.NEW_TILE_SCORES, task="tumor", model="abmil")]
    assert inputs.heatmap_manifest(wildcards) == paths.fill(paths.SLIDE_MANIFEST, cohort=paths.NEW_COHORT)
    assert inputs.heatmap_splits(wildcards) == []
    trained = Wildcards(task="tumor", source="abmil")
    assert len(inputs.heatmap_score_files(trained)) == inputs.folds
    assert inputs.heatmap_splits(trained) == paths.fill(paths.SPLITS, task="tumor")


def test_stage_targets():
    inputs = demo_inputs()
    slides = inputs.cohort.slides()
    assert inputs.stages()["tiles"]() == [paths.fill(paths.TILES, slide=s) for s in slides]
    assert expand(paths.FEATURES, encoder=["a", "b"], slide="s") == [
        paths.fill(paths.FEATURES, encoder=e, slide="s") for e in ("a", "b")
    ]
    every = inputs.all_targets(None)
    assert paths.VERSIONS in every and paths.fill(paths.PU_SLIDE_SCORES, task="tumor") in every
    no_encoder = demo_inputs(encoders={})
    assert no_encoder.stages()["tiles"]()
    with pytest.raises(ConfigError, match="features.encoders"):
        no_encoder.stages()["train"]()
