# make conformance: set up .venv, run the conformance suite on eager torch (profile ci).
# make test:        set up .venv, run the project's own tests, then the conformance suite.
# Override the torch under test with TORCH="torch==X", the workers with WORKERS=N.
PYTHON  ?= python3
VENV    ?= .venv
TORCH   ?= torch==2.13.0
WORKERS ?= 2
PROFILE ?= ci
PYTEST_ARGS ?=
OUT     ?= reports/out

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst =,_,$(subst <,_,$(subst >,_,$(TORCH))))

.PHONY: setup conformance test meta bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

conformance: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/python -m pytest conformance -n $(WORKERS) --hypothesis-profile=$(PROFILE) \
		--junitxml=$(OUT)/junit.xml -rfEsxX $(PYTEST_ARGS)

meta: $(STAMP)
	$(BIN)/python -m pytest meta_tests -n $(WORKERS) -rfEs $(PYTEST_ARGS)

test: meta conformance

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf $(VENV) $(OUT)
