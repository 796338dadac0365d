import subprocess
import sys

from vision_attention import __version__
from vision_attention.cli import main


def test_console_script_prints_help_and_version():
    out = subprocess.run([sys.executable, "-m", "vision_attention.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
    assert main([]) == 0
