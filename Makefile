# make conformance: set up .venv, run the conformance suite on eager torch (profile ci).
# make test:        set up .venv, run the project's own tests, then the conformance suite.
# make backends:    run the suite on every built-in backend, then one invariant x backend view.
# Override the torch under test with TORCH="torch==X", the workers with WORKERS=N, the backend
# with BACKEND=NAME (a built-in, an entry point or package.module:factory).
PYTHON  ?= python3
VENV    ?= .venv
TORCH   ?= torch==2.13.0
WORKERS ?= 2
PROFILE ?= ci
PYTEST_ARGS ?=
OUT     ?= reports/out
BACKEND ?= eager
BACKENDS ?= eager module-compile compile fx export jit ddp

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst =,_,$(subst <,_,$(subst >,_,$(TORCH))))

.PHONY: setup conformance backends test meta bench clean

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
	$(BIN)/python -m pytest conformance -n $(WORKERS) --hypothesis-profile=$(PROFILE) --backend=$(BACKEND) \
		--junitxml=$(OUT)/junit.xml -rfEsxX $(PYTEST_ARGS)

backends: $(STAMP)
	@rc=0; for b in $(BACKENDS); do \
		echo "== backend $$b"; mkdir -p $(OUT)/backends/$$b; \
		$(BIN)/python -m pytest conformance -n $(WORKERS) --hypothesis-profile=$(PROFILE) --backend=$$b \
			--report-dir=$(OUT)/backends/$$b -q -rfE $(PYTEST_ARGS) || rc=1; \
	done; \
	$(BIN)/python -m reports.backends $(OUT)/backends/*/report.json --out $(OUT)/backends || rc=1; \
	exit $$rc

meta: $(STAMP)
	$(BIN)/python -m pytest meta_tests -n $(WORKERS) -rfEs $(PYTEST_ARGS)

test: meta conformance

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf $(VENV) $(OUT)
