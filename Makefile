# The two commands of the README. Each sets up .venv itself (pinned, Python 3.10) before running.
.PHONY: train test setup
setup:
	@scripts/setup-env
train: setup
	.venv/bin/ecneuro train --backend lava-sim
test: setup
	@scripts/setup-test-stacks
	.venv/bin/python -m pytest -q -p no:cacheprovider
