"""Developer programs, one folder per job; run from the repository root as modules
(``python -m tools.run_tests``, ``python -m tools.bench``): see README.md."""
