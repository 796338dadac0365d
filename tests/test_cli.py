import subprocess
import sys
from pathlib import Path

import pytest

from vision_attention import __version__
from vision_attention.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_console_script_prints_help_and_version():
    out = subprocess.run([sys.executable, "-m", "vision_attention.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
    assert main([]) == 0


def test_predict_is_not_offered_and_says_which_commands_do(capsys):
    from vision_attention.cli.lightning import VisionAttentionCLI

    assert set(VisionAttentionCLI.subcommands()) == {"fit", "validate", "test"}
    assert main(["predict", "--config", str(ROOT / "train" / "sat_soft_shapes.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "use caption, draw, classify or translate" in err
    assert "predict" not in build_help()


def build_help() -> str:
    from vision_attention.cli import build_parser

    return build_parser().format_help()


def test_a_bad_config_key_ends_in_one_line_naming_the_file_key_and_problem(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  class_path: vision_attention.lit.DrawModule\n  init_args:\n    lrr: 1\n")
    assert main(["fit", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"vision-attention: error: {config}: model (vision_attention.lit.DrawModule): Option 'lrr' is not accepted"
    ]
    assert main(["fit", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["fit", "--config", "train/draw_shapes.yaml", "--trainer.max_stepz", "3"]) == 2
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --trainer.max_stepz 3")


CONFIG_ERRORS = [  # (a YAML edit or a flag, the one line it must end in)
    (
        ("batch_size: 64", 'batch_size: "abc"'),
        "data.init_args.batch_size (vision_attention.data.ShapesCaptionsDataModule): expected int, got 'abc'",
    ),
    (
        ("lr: 2.0e-3", "lr: fast"),
        "model.init_args.lr (vision_attention.lit.CaptioningModule): expected float, got 'fast'",
    ),
    (
        ("attention: soft", "attention: sofft"),
        (
            "model.init_args.model.init_args.attention "
            "(vision_attention.models.ShowAttendTell): expected one of 'soft', 'hard', got 'sofft'"
        ),
    ),
    (
        ("lit.CaptioningModule", "lit.CaptioningModul"),
        (
            "model (vision_attention.lit.CaptioningModul): "
            "vision_attention.lit has no class CaptioningModul (did you mean CaptioningModule?)"
        ),
    ),
]


@pytest.mark.parametrize("edit, expected", CONFIG_ERRORS)
def test_a_bad_value_in_a_config_ends_in_one_line_with_its_key_class_and_reason(edit, expected, tmp_path, capsys):
    source = (ROOT / "train" / "sat_soft_shapes.yaml").read_text()
    assert edit[0] in source
    config = tmp_path / "bad.yaml"
    config.write_text(source.replace(edit[0], edit[1]))
    assert main(["fit", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"vision-attention: error: {config}: {expected}"]


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--trainer.max_steps", "abc", "expected int, got 'abc'"),
        (
            "--data.init_args.batch_size",
            "abc",
            "(vision_attention.data.ShapesCaptionsDataModule): expected int, got 'abc'",
        ),
        (
            "--model.init_args.model.init_args.attention",
            "sofft",
            "(vision_attention.models.ShowAttendTell): expected one of 'soft', 'hard', got 'sofft'",
        ),
    ],
)
def test_a_bad_flag_is_blamed_on_the_flag_not_the_config(flag, value, expected, capsys):
    assert main(["fit", "--config", str(ROOT / "train" / "sat_soft_shapes.yaml"), flag, value]) == 2
    line = capsys.readouterr().err.strip().splitlines()
    assert line == [f"vision-attention: error: {flag}{'' if expected.startswith('(') else ':'} {expected}"]


def test_every_config_in_train_parses(capsys):
    from pathlib import Path

    import pytest

    for config in sorted(Path("train").glob("*.yaml")):
        with pytest.raises(SystemExit) as stop:  # --print_config parses, instantiates nothing, exits 0
            main(["fit", "--config", str(config), "--print_config"])
        assert stop.value.code == 0, config


def test_flags_given_with_a_checkpoint_are_not_overridden_by_its_hyperparameters(tmp_path):
    """`validate --ckpt_path X --model.init_args.beam_size 1` decodes greedily, whatever X was trained with."""
    from vision_attention.cli.lightning import run

    config = str(Path(__file__).resolve().parents[1] / "train" / "sat_soft_shapes.yaml")
    small = [
        "--data.init_args.train_size",
        "64",
        "--data.init_args.val_size",
        "8",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.model.init_args.hidden_dim",
        "32",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    fit = run(
        [
            "fit",
            "--config",
            config,
            *small,
            "--trainer.max_steps",
            "2",
            "--trainer.limit_val_batches",
            "0",
            "--trainer.callbacks.dirpath",
            str(tmp_path / "ckpt"),
        ]
    )
    assert fit.model.hparams.beam_size == 3
    validate = run(
        [
            "validate",
            "--config",
            config,
            *small,
            "--ckpt_path",
            str(tmp_path / "ckpt" / "last.ckpt"),
            "--model.init_args.beam_size",
            "1",
            "--trainer.limit_val_batches",
            "1",
        ]
    )
    assert validate.model.hparams.beam_size == 1
    assert validate.trainer.global_step == 0 and "val/bleu4" in validate.trainer.callback_metrics


def test_the_config_a_run_saves_runs_again_and_checkpoints_stay_atomic(tmp_path):
    """Lightning writes each run's full config to config.yaml, for running it again."""
    from vision_attention.cli.lightning import AtomicCheckpointIO, run

    config = str(ROOT / "train" / "sat_soft_shapes.yaml")
    small = [
        "--data.init_args.train_size",
        "16",
        "--data.init_args.val_size",
        "8",
        "--data.init_args.batch_size",
        "8",
        "--model.init_args.model.init_args.hidden_dim",
        "16",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.max_steps",
        "1",
        "--trainer.limit_val_batches",
        "0",
    ]
    first = run(["fit", "--config", config, *small, "--trainer.default_root_dir", str(tmp_path / "first")])
    assert isinstance(first.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    saved = next((tmp_path / "first").rglob("config.yaml"))
    again = run(["fit", "--config", str(saved), "--trainer.default_root_dir", str(tmp_path / "again")])
    assert isinstance(again.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert again.trainer.global_step == 1 and next((tmp_path / "again").rglob("last.ckpt"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["translate", "--checkpoint", "x.ckpt", "--beam-size", "0", "9 may 2018"],
            "--beam-size must be an integer in [1, 1000], got 0",
        ),
        (["demo", "--caption-steps", "-1"], "--caption-steps must be an integer >= 1, got -1"),
        (["demo", "--draw-steps", "0"], "--draw-steps must be an integer >= 1, got 0"),
        (["seeds", "--config", "train/sat_soft_shapes.yaml", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["judge", "--drawer", "a.ckpt", "--judge", "b.ckpt", "--num", "0"], "--num must be an integer >= 1, got 0"),
    ],
)
def test_numbers_out_of_range_are_refused_before_any_work(argv, message, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"vision-attention: error: {message}"]


def test_short_flags_reach_settings_nested_in_the_model_and_data():
    """--model.model.steps, not --model.init_args.model.init_args.steps (both work)."""
    from vision_attention.cli.lightning import VisionAttentionCLI

    cli = VisionAttentionCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=[
            "--config",
            str(ROOT / "train" / "draw_shapes.yaml"),
            "--model.model.steps",
            "3",
            "--model.lr",
            "0.01",
            "--data.batch_size",
            "7",
            "--trainer.logger",
            "false",
        ],
    )
    assert (cli.model.model.steps, cli.model.hparams.lr, cli.datamodule.hparams.batch_size) == (3, 0.01, 7)


def test_every_experiment_reads_the_shared_defaults_and_may_override_them(capsys):
    """seed and accelerator live once, in the package's train_defaults.yaml, under each YAML."""
    import yaml

    from vision_attention.cli.lightning import run

    for extra, seed in (([], 0), (["--seed_everything", "3"], 3)):
        with pytest.raises(SystemExit):
            run(["fit", "--config", str(ROOT / "train" / "sentiment_lstm.yaml"), *extra, "--print_config"])
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["seed_everything"] == seed and printed["trainer"]["accelerator"] == "auto"
    assert not [p.name for p in (ROOT / "train").glob("*.yaml") if "seed_everything" in p.read_text()]
