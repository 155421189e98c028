# make conformance: set up .venv, run the conformance suite on eager torch (profile ci).
# make test:        set up .venv, run the project's own tests, then the conformance suite.
# make backends:    run the suite on every built-in backend, then one invariant x backend view.
# make matrix:      one venv and report per torch in TORCH (a list), comparisons, one matrix page.
# Override the torch under test with TORCH=SPEC: a version (2.14.1), a requirement
# (torch==2.14.1), a wheel path or a URL (torch @ https://...); PIP_ARGS="--pre --index-url URL"
# or TORCH_INDEX=URL go to the torch install only. The workers: WORKERS=N; the backend:
# BACKEND=NAME (a built-in, a framework: paddle or mlx, an entry point or package.module:factory);
# every report: OUT=DIR. A framework's pinned wheel is installed on first use (pip install -e '.[NAME]').
PYTHON  ?= python3
# Bytecode caches (Python's, and pytest's rewritten test modules) save about 1.5 s of start-up in
# every pytest process after the first: each xdist worker and each run the project's tests start.
# Some machines turn them off (PYTHONDONTWRITEBYTECODE=1); the project's runs write them.
unexport PYTHONDONTWRITEBYTECODE
VENV    ?= .venv
TORCH   ?= torch==2.13.0
WORKERS ?= 2
PROFILE ?= ci
PYTEST_ARGS ?=
OUT     ?= reports/out
BACKEND ?= eager
BACKENDS ?= eager module-compile compile fx export jit ddp paddle mlx
# Frameworks that are not torch: each is an optional extra of pyproject.toml, installed on demand.
FRAMEWORKS := paddle mlx
PIP_ARGS ?=
TORCH_INDEX ?=
MATRIX_VENVS ?= .venv-matrix
MATRIX_ARGS ?=

# shell-quote one argument
quote = '$(subst ','\'',$(1))'
TORCH_PIP_ARGS := $(strip $(PIP_ARGS) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)))
BIN   := $(VENV)/bin
# The stamp is named by a hash of the spec: a spec may hold '/', ':', '@' and spaces (a wheel
# path, torch @ file:///...), none of which a file name or a make target can take as they are.
STAMP := $(VENV)/.installed-$(shell printf '%s' $(call quote,$(strip $(TORCH) $(TORCH_PIP_ARGS))) | sha256sum | cut -c1-16)

.PHONY: setup extras conformance backends matrix test meta bench clean

# The stamp of a framework backend's extra (none for torch backends).
extra_stamp = $(if $(filter $(1),$(FRAMEWORKS)),$(VENV)/.extra-$(1))

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	spec=$(call quote,$(TORCH)); case "$$spec" in [0-9]*) spec="torch==$$spec";; esac; \
		$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$$spec"
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

$(VENV)/.extra-%: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[$*]'
	touch $@

# Every framework's extra; .ci/run calls it and goes on without them when their wheels cannot install.
extras: $(foreach f,$(FRAMEWORKS),$(call extra_stamp,$(f)))

conformance: $(STAMP) $(call extra_stamp,$(BACKEND))
	mkdir -p $(OUT)
	$(BIN)/python -m pytest conformance -n $(WORKERS) --hypothesis-profile=$(PROFILE) --backend=$(BACKEND) \
		--report-dir=$(OUT) --junitxml=$(OUT)/junit.xml -rfEsxX $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 0 ] && [ "$(PROFILE)" = ci ] && [ "$(BACKEND)" = eager ] && [ -z "$(strip $(PYTEST_ARGS))" ]; then $(BIN)/python -m conformance.coverage --api --check $(OUT)/api-coverage.json || rc=$$?; fi; exit $$rc

backends: $(STAMP) $(foreach b,$(BACKENDS),$(call extra_stamp,$(b)))
	@rc=0; for b in $(BACKENDS); do \
		echo "== backend $$b"; mkdir -p $(OUT)/backends/$$b; \
		$(BIN)/python -m pytest conformance -n $(WORKERS) --hypothesis-profile=$(PROFILE) --backend=$$b \
			--report-dir=$(OUT)/backends/$$b -q -rfE $(PYTEST_ARGS) || rc=1; \
	done; \
	$(BIN)/python -m reports.backends $(OUT)/backends/*/report.json --out $(OUT)/backends || rc=1; \
	exit $$rc

# TORCH="2.13.0 2.14.1 2.15.0": one venv per entry under $(MATRIX_VENVS), reports under
# $(OUT)/matrix/<entry>/, then comparisons and $(OUT)/matrix/index.{md,html} (tools/matrix.py).
matrix:
	$(PYTHON) tools/matrix.py --out $(OUT)/matrix --venvs $(MATRIX_VENVS) --python $(PYTHON) \
		--workers $(WORKERS) --profile $(PROFILE) --backend $(BACKEND) \
		--pip-args=$(call quote,$(TORCH_PIP_ARGS)) --pytest-args=$(call quote,$(PYTEST_ARGS)) $(MATRIX_ARGS) \
		$(call quote,$(TORCH))

meta: $(STAMP)
	$(BIN)/python -m pytest meta_tests -n $(WORKERS) -rfEs $(PYTEST_ARGS)

test: meta conformance

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf $(VENV) $(OUT)
