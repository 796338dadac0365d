"""The README and the docs never lie: every ```python block in them runs, every shell command
parses, every link between them resolves, every table stays readable."""

import re
from pathlib import Path

import pytest

from .helpers import write_photo

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MARKDOWN = [
    *GUIDES,
    *sorted((ROOT / "vision_attention" / "pretrained").glob("*/README.md")),
    ROOT / "datasets" / "README.md",
]


def blocks(language: str) -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}#{i}", code)
        for page in GUIDES
        for i, code in enumerate(re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL))
    ]


PYTHON = blocks("python")


@pytest.mark.parametrize("code", [c for _, c in PYTHON], ids=[name for name, _ in PYTHON])
def test_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_photo("photo.jpg")  # the "photo.jpg" the blocks caption
    exec(compile(code, "block", "exec"), {"__name__": "__docs__"})  # noqa: S102  the docs' own code


def test_readme_names_the_test_command_and_stays_short():
    text = README.read_text(encoding="utf-8")
    assert "make test" in text
    assert len(text.splitlines()) <= 200


def shell_commands() -> list[tuple[str, list[str]]]:
    """Every vision-attention command line of the ```bash blocks, as argv."""
    import shlex

    commands = []
    for name, block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "vision-attention" in words:
                commands.append((name, words[words.index("vision-attention") + 1 :]))
            elif "vision_attention.cli" in words:  # torchrun ... -m vision_attention.cli
                commands.append((name, words[words.index("vision_attention.cli") + 1 :]))
    return commands


@pytest.mark.parametrize(
    "argv", [a for _, a in shell_commands()], ids=[f"{n}: {' '.join(a[:3])}" for n, a in shell_commands()]
)
def test_shell_commands_parse(argv, capsys):
    """The shell blocks train for minutes to hours, so they are parsed, not run: LightningCLI
    commands must pass --print_config (which instantiates nothing), the others argparse."""
    from vision_attention.cli import LIGHTNING_COMMANDS, build_parser, main

    if argv[0] in LIGHTNING_COMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--print_config"])
        assert stop.value.code == 0, capsys.readouterr().err
    else:
        assert build_parser().parse_args(argv).command == argv[0]


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for page in GUIDES:
        for target in re.findall(r"^make (\w+)", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
            assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"{page.name}: make {target}"


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
        slugs.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return slugs


def test_every_link_between_the_pages_resolves():
    broken = []
    for page in MARKDOWN:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_no_table_cell_holds_more_than_200_characters():
    long = []
    for page in MARKDOWN:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith("|"):
                long += [
                    f"{page.relative_to(ROOT)}:{number}: {len(c)}" for c in line.strip("|").split(" | ") if len(c) > 200
                ]
    assert not long, long


def test_every_config_says_what_and_why_in_at_most_8_lines():
    for config in sorted((ROOT / "train").glob("*.yaml")):
        lines = config.read_text(encoding="utf-8").splitlines()
        header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        assert 2 <= header <= 8, f"{config.name}: a header of {header} lines"
