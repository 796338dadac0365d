"""glibc's allocator is set by what trains or captions, never by importing the package."""

import subprocess
import sys

# Stands in for vision_attention.allocator before the package is imported, and counts its calls.
PROBE = """
import sys, types
calls = []
fake = types.ModuleType("vision_attention.allocator")
fake.keep_freed_memory = lambda: calls.append(1) or True
sys.modules["vision_attention.allocator"] = fake
import vision_attention, vision_attention.inference, vision_attention.models
print("calls:", len(calls))
{then}
print("calls:", len(calls))
"""


def probe(then: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(then=then)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return [int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("calls: ")]


def test_importing_the_package_leaves_the_allocator_alone_and_the_cli_sets_it():
    before, after = probe(
        "from vision_attention.cli import main\ntry:\n    main(['caption', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert (before, after) == (0, 1)


def test_a_data_module_sets_it_when_it_is_set_up():
    before, after = probe(
        "from vision_attention.data import ShapesCaptionsDataModule\n"
        "ShapesCaptionsDataModule(train_size=8, val_size=8, test_size=8).setup('fit')"
    )
    assert before == 0 and after >= 1
