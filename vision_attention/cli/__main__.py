"""``python -m vision_attention.cli``, as the console script (torchrun starts ranks this way)."""

import sys

from . import main

sys.exit(main())
