"""``python -m ddrm.cli`` (as torchrun launches it): the ``ddrm`` command."""

import sys

from . import main

sys.exit(main())
