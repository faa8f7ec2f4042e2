"""A settings module that never finishes loading (tests/test_production_checks.py)."""

import time

time.sleep(120)
