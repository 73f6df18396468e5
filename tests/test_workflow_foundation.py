"""The workflow as users run it: lint, dry run, sheet errors, broken slides under --keep-going."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import REPO, run_snakemake
from http_server import serve

pytestmark = pytest.mark.workflow


def make_workdir(tmp_path: Path, config: str) -> Path:
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.yaml").write_text(config)
    return tmp_path


def test_lint_is_clean():
    result = run_snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


def test_dry_run_of_default_config_prints_dag(tmp_path):
    workdir = make_workdir(tmp_path, (REPO / "config" / "config.yaml").read_text())
    result = run_snakemake(workdir, "-n", "all")
    out = result.stdout + result.stderr
    for rule in ("demo_slide", "fetch_slide", "tissue_mask", "tile_slide"):
        assert rule in out
    assert "demo_023" in out


def test_bad_sheet_stops_before_any_job(tmp_path, real_slides):
    pd.DataFrame(
        [
            {"slide_id": "a", "source": str(real_slides["cmu"]), "label": "tumor"},
            {"slide_id": "a", "source": str(real_slides["tcga"]), "label": "normal"},
        ]
    ).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    workdir = make_workdir(tmp_path, "samples: samples.tsv\n")
    result = run_snakemake(workdir, "download", check=False)
    assert result.returncode != 0
    assert "sample sheet samples.tsv, row 2, column 'slide_id': duplicate slide_id 'a'" in result.stdout + result.stderr
    assert not (workdir / "results").exists()


def test_broken_slide_fails_alone_with_keep_going_under_strict(tmp_path, real_slides):
    """qc.strict: true keeps failing an unreadable slide's job (the default excludes it: test_workflow_exclusion)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken.svs").write_bytes(real_slides["cmu"].read_bytes()[:50_000])  # truncated
    (data / "tcga.svs").symlink_to(real_slides["tcga"])
    with serve(data) as server:
        pd.DataFrame(
            [
                {"slide_id": "cmu", "source": str(real_slides["cmu"]), "label": "tumor", "mpp": ""},
                {
                    "slide_id": "tcga",
                    "source": f"{server.url}/tcga.svs",
                    "label": "normal",
                    "mpp": "0.25",
                    "md5": "0ffa48ecfb03c832b9532e90ca29ade4",
                },
                {"slide_id": "broken", "source": "data/broken.svs", "label": "normal", "mpp": ""},
            ]
        ).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
        workdir = make_workdir(tmp_path, "samples: samples.tsv\nqc: {strict: true}\n")
        result = run_snakemake(workdir, "tiles", "--keep-going", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "slide 'broken': OpenSlide cannot read results/slides/broken.svs (from " in out
    assert str(data / "broken.svs") in out  # the user's own file, not only the workflow's link
    assert (workdir / "results/slides/cmu.svs").is_symlink()
    assert (workdir / "results/slides/tcga.svs").stat().st_size == real_slides["tcga"].stat().st_size
    assert not (workdir / "results/slides/broken.svs").exists()
    # the good slides went on through masking and tiling; the TCGA mpp came from the sheet
    for slide in ("cmu", "tcga"):
        assert (workdir / f"results/tiles/{slide}.h5").exists()
    assert '"mpp_source": "sample sheet"' in (workdir / "results/masks/tcga.json").read_text()


def unlabelled_config(tmp_path: Path, sheet: Path) -> Path:
    """config/examples/unlabelled.yaml as a user would copy it: their sheet, random weights (offline)."""
    config = yaml.safe_load((REPO / "config" / "examples" / "unlabelled.yaml").read_text())
    config["samples"] = str(sheet)
    config["features"]["encoders"] = {"resnet18": {"weights": "random"}}
    config["features"]["num_workers"] = 0
    path = tmp_path / "my_cohort.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_real_slides_without_labels_through_features_and_export(tmp_path, real_slides):
    """A sheet without a label column and the example config: tiles, features and exports for both real
    slides, no demo slide touched; only targets that train ask for labels."""
    pd.DataFrame(
        [
            {"slide_id": "cmu", "source": str(real_slides["cmu"])},
            {"slide_id": "tcga", "source": str(real_slides["tcga"]), "mpp": "0.25"},
        ]
    ).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    config = unlabelled_config(tmp_path, tmp_path / "samples.tsv")
    run_snakemake(tmp_path, "tiles", "features", "export", f"--configfile={config}")
    for slide in ("cmu", "tcga"):
        assert (tmp_path / f"results/features/resnet18/{slide}.h5").exists()
        assert (tmp_path / f"results/export/clam/patches/{slide}.h5").exists()
        assert list((tmp_path / "results/export/trident").glob(f"*/features_resnet18/{slide}.h5"))
    assert not (tmp_path / "resources").exists()
    # the same sheet with a training task: `train` names the sheet, the row and the column
    labelled = yaml.safe_load(config.read_text())
    labelled.pop("tasks")
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({**labelled, "pu": {"enabled": False}}))
    result = run_snakemake(tmp_path, "-n", "train", f"--configfile={tmp_path / 'train.yaml'}", check=False)
    assert result.returncode != 0
    assert f"sample sheet {tmp_path / 'samples.tsv'}, row 1, column 'label'" in result.stdout + result.stderr


def test_config_overrides_on_the_command_line(tmp_path):
    """Nested --config values reach the rules as numbers (--config 'tiling={min_tissue: 0.5}')."""
    result = run_snakemake(
        tmp_path,
        "-n",
        "-p",
        "tiles",
        f"--configfile={REPO / 'config' / 'config.yaml'}",
        "--config",
        "tiling={min_tissue: 0.5}",
        "demo={n_slides: 2, new_slides: 0}",
    )
    assert "tile_slide" in result.stdout and result.stdout.count("rule demo_slide") == 2
