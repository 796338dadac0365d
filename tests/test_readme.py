"""The README never lies: every ```python block in it runs, every shell command in it parses."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_names_the_test_command():
    assert "make test" in README.read_text(encoding="utf-8")


def readme_commands() -> list[list[str]]:
    """Every vision-attention command line of the README's ```bash blocks, as argv."""
    import shlex

    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "vision-attention" in words:
                commands.append(words[words.index("vision-attention") + 1 :])
            elif "vision_attention.cli" in words:  # torchrun ... -m vision_attention.cli
                commands.append(words[words.index("vision_attention.cli") + 1 :])
    return commands


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: " ".join(argv[:3]))
def test_readme_shell_commands_parse(argv, capsys):
    """The shell blocks train for minutes to hours, so they are parsed, not run: LightningCLI
    commands must pass --print_config (which instantiates nothing), the others argparse."""
    from vision_attention.cli import LIGHTNING_COMMANDS, build_parser, main

    if argv[0] in LIGHTNING_COMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--print_config"])
        assert stop.value.code == 0, capsys.readouterr().err
    else:
        assert build_parser().parse_args(argv).command == argv[0]


def test_readme_make_targets_exist():
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"^make (\w+)", README.read_text(encoding="utf-8"), flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
