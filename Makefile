# The two set-up commands of the README: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
EXAMPLES ?= examples/

.PHONY: install brokers demo test unit lint bench down

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'

brokers: install
	$(PYTHON) dev/brokers up

demo: brokers
	topoctl validate -f $(EXAMPLES)
	topoctl plan -f $(EXAMPLES)
	topoctl apply -f $(EXAMPLES) --auto-approve
	topoctl plan -f $(EXAMPLES) --detailed-exitcode

test: brokers
	$(PYTHON) -m pytest -q -p no:cacheprovider

unit: install
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/unit

lint:
	ruff check topoctl tests bench
	mypy

down:
	$(PYTHON) dev/brokers down
