"""Send a script's stdout and stderr (progress bars included) to the rule's log file."""

import sys


def redirect(log_path):
    handle = open(log_path, "w", buffering=1)
    sys.stdout = sys.stderr = handle
    return handle
