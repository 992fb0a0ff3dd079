"""`python -m meco_lab.retrain` with DARTS genotypes: the darts_smoke profile end to end, selections, errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
import pytest
import torch

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts import DARTS_V2, NetworkCIFAR, count_params
from meco_lab.training.archs import quote_arch_overrides, resolve_archs, split_top_level
from meco_lab.training.protocol import check_protocol, check_space

REPO = Path(__file__).resolve().parents[1]
JPEG_NPZ = REPO / "tests" / "fixtures" / "cifar10_jpeg_subset.npz"  # the archive's format, 3,000 images
LIGHT_C10 = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"  # NATS #13987
V2 = str(DARTS_V2)


def test_genotype_overrides_are_quoted_for_hydra():
    assert quote_arch_overrides([f"arch={V2}"]) == [f'arch="{V2}"']
    assert quote_arch_overrides([f"arch=[best,{V2}]"]) == [f"arch=['best',\"{V2}\"]"]
    assert split_top_level(f"best, {V2},{LIGHT_C10}") == ["best", V2, LIGHT_C10]


def test_selection_of_the_darts_space_gives_a_genotype(tmp_path):
    selection = tmp_path / "selection.json"
    spaced = V2.replace("[2, 3, 4, 5]", "range(2, 6)")
    selection.write_text(json.dumps({"space": "darts", "best": {"arch": spaced, "score": 1.0}}))
    (choice,) = resolve_archs("best", str(selection))
    assert choice.space == "darts" and choice.arch == V2 and choice.index is None
    assert choice.key.startswith("darts-") and choice.origin == f"best of {selection}"
    both = resolve_archs([V2, LIGHT_C10, V2], None)
    assert [c.space for c in both] == ["darts", "nb201"] and both[1].index == 13987
    selection.write_text(json.dumps({"space": "darts", "best": {"arch": LIGHT_C10}}))
    with pytest.raises(ConfigError, match="DARTS genotype"):
        resolve_archs("best", str(selection))


def _protocol(profile: str) -> dict:
    from omegaconf import OmegaConf

    root = Path(__file__).resolve().parents[1] / "conf" / "profile"
    return OmegaConf.to_container(OmegaConf.load(root / f"{profile}.yaml"))["protocol"]


def test_protocol_and_space_mismatches_are_refused():
    darts, nb201 = check_protocol(_protocol("darts")), check_protocol(_protocol("nb201"))
    assert darts["epochs"] == 600 and darts["batch_size"] == 96 and darts["lr"] == 0.025
    assert darts["weight_decay"] == 3e-4 and darts["cutout"] == 16 and darts["layers"] == 20
    genotype, cell = resolve_archs([V2, LIGHT_C10], None)
    check_space([genotype], darts, "cifar10")
    check_space([cell], nb201, "cifar10")
    with pytest.raises(ConfigError, match=r"a DARTS genotype .* with profile darts"):
        check_space([cell], darts, "cifar10")
    with pytest.raises(ConfigError, match=r"an NB201 arch string .* with profile nb201"):
        check_space([genotype], nb201, "cifar10")
    with pytest.raises(ConfigError, match="cifar10 or cifar100"):
        check_space([genotype], darts, "imagenet16")
    for key, value in (("drop_path", 1.0), ("channels", 7), ("cutout", -1), ("grad_clip", 0), ("layers", 2)):
        with pytest.raises(ConfigError, match=f"protocol.{key}="):
            check_protocol({**_protocol("darts"), key: value})


@pytest.mark.parametrize(
    "args, key, allowed",
    [
        ([f"arch={LIGHT_C10}", "profile=darts", f"data.root={JPEG_NPZ}"], "arch",
         "a DARTS genotype (an NB201 arch string trains with"),
        ([f"arch={V2.replace('dil_conv_3x3', 'dil_conv_7x7')}", "profile=darts"], "arch", "has op 'dil_conv_7x7'"),
    ],
    ids=["nb201 arch with profile=darts", "unknown op in a genotype"],
)
def test_bad_darts_input_fails_in_one_line(tmp_path, cli, args, key, allowed):
    done = cli(*args, f"hydra.run.dir={tmp_path / 'run'}", module="meco_lab.retrain", cwd=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(err.splitlines()) == 1, done.stderr
    assert err.startswith(f"error: {key}=") and allowed in err, err
    assert not (tmp_path / "run" / "retrain_fingerprint.json").exists()


def test_darts_smoke_profile_learns_cifar10_above_chance(tmp_path, cli):
    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps({"space": "darts", "best": {"arch": V2}}))
    start = time.perf_counter()
    args = ["arch=best", f"selection={selection}", "profile=darts_smoke", f"data.root={JPEG_NPZ}",
            f"hydra.run.dir={tmp_path / 'run'}"]
    done = cli(*args, module="meco_lab.retrain", cwd=tmp_path)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-3000:]
    (arch_dir,) = (tmp_path / "run").glob("darts-*")
    result = json.loads((arch_dir / "seed_0" / "result.json").read_text())
    assert result["arch"] == V2 and result["train_images"] == 2000 and result["test_images"] == 1000
    assert result["epochs_trained"] == 2 and result["test_acc"] > 25.0, result  # chance is 10%
    assert result["params"] == count_params(NetworkCIFAR(8, 10, 5, True, DARTS_V2)) == 37_018
    assert (arch_dir / "genotype.txt").read_text().strip() == V2
    assert (arch_dir / "genotype.png").read_bytes()[:4] == b"\x89PNG"
    history = pl.read_csv(arch_dir / "seed_0" / "history.csv")
    assert history["epoch"].to_list() == [0, 1] and history["lr"][-1] == pytest.approx(0.0, abs=1e-9)
    row = pl.read_csv(tmp_path / "run" / "final_accuracy.csv").row(0, named=True)
    assert row["arch"] == V2 and row["protocol"] == "darts_smoke" and row["benchmark_test_acc"] is None
    md = (tmp_path / "run" / "final_accuracy.md").read_text()
    assert "8 initial channels, 5 layers" in md and "37,018" in md
    ckpt = torch.load(arch_dir / "seed_0" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["hyper_parameters"]["cutout"] == 16 and ckpt["hyper_parameters"]["grad_clip"] == 5.0
    print(
        f"darts smoke: {result['test_acc']:.2f}% test accuracy, {result['train_seconds']:.1f} s training, "
        f"{wall:.1f} s wall"
    )
