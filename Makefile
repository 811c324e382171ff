# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo up test test-unit test-functional test-integration test-e2e lint typecheck format clean sample localstack-deploy sam-build sizes bench-cold-start

$(STAMP): pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@test -x $(BIN)/python || $(PYTHON) -m uv venv --quiet --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

# aws-sam-cli pins its own dependency versions, so it lives in a venv of its own.
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY=0

$(SAM):
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --python $(PYTHON) $(SAM_VENV)
	$(PYTHON) -m uv pip install --quiet --python $(SAM_VENV)/bin/python aws-sam-cli

install: $(STAMP)

## Run the headline request on the bundled sales sample, on the embedded local cloud.
demo: $(STAMP)
	POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/analystack demo

## Run the embedded local cloud on the seed ports until Ctrl-C.
up: $(STAMP)
	$(BIN)/analystack up

## The test suite (unit, functional, integration); e2e runs only when ANALYSTACK_E2E_URL is set.
test: $(STAMP)
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-functional: $(STAMP)
	$(BIN)/pytest tests/functional

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration

lint: $(STAMP) $(SAM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint infra/template.yaml
	$(SAM) validate --lint --template infra/template.yaml --region us-east-1

## sam build of the zip functions and the core layer, offline and without containers
## (the data agents are container images: `sam build` builds those too where Docker runs).
ZIP_FUNCTIONS := GatewayFunction OrchestratorFunction ProgressFunction
sam-build: $(SAM)
	@for fn in $(ZIP_FUNCTIONS); do \
		$(SAM) build $$fn --build-in-source --template infra/template.yaml --build-dir .aws-sam/build-$$fn || exit 1; \
	done

## Unzipped size of every function with its layers (zip budget 200 MB), container agents too.
sizes: $(STAMP)
	$(BIN)/python scripts/build_lambda.py

## Cold starts: the development venv, then the built packages as Lambda loads them.
bench-cold-start: sizes
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/cold_start.py --built build/lambda

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

## Build and deploy the template onto a running LocalStack (needs Docker and aws-sam-cli-local).
localstack-deploy:
	samlocal build --template-file infra/template.yaml
	samlocal deploy --config-file localstack/samconfig.toml

sample: $(STAMP)
	$(BIN)/python scripts/make_sample_sales.py

clean:
	rm -rf $(VENV) $(SAM_VENV) build .pytest_cache .mypy_cache .ruff_cache .aws-sam analystack-results
