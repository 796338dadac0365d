import subprocess
import sys

from vision_attention import __version__
from vision_attention.cli import main


def test_console_script_prints_help_and_version():
    out = subprocess.run([sys.executable, "-m", "vision_attention.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
    assert main([]) == 0


def test_a_bad_config_key_ends_in_one_line_naming_the_file_key_and_problem(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  class_path: vision_attention.lit.DrawModule\n  init_args:\n    lrr: 1\n")
    assert main(["fit", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vision-attention: error: {config}: model (vision_attention.lit.DrawModule): Option 'lrr' is not accepted"]
    assert main(["fit", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["fit", "--config", "train/draw_shapes.yaml", "--trainer.max_stepz", "3"]) == 2
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --trainer.max_stepz 3")


def test_every_config_in_train_parses(capsys):
    from pathlib import Path

    import pytest

    for config in sorted(Path("train").glob("*.yaml")):
        with pytest.raises(SystemExit) as stop:  # --print_config parses, instantiates nothing, exits 0
            main(["fit", "--config", str(config), "--print_config"])
        assert stop.value.code == 0, config
