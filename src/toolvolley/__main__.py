"""``python -m toolvolley``: the command line."""

# Absolute import and a guard: worker processes (run_in="process" tools) load the main module
# as a top-level script when they start, where a relative import would fail.
from toolvolley.cli import main

if __name__ == "__main__":
    main()
