# customs — local development. Everything runs on the host: no Docker needed.
.PHONY: demo test up down status env build lint package clean bench

demo:   ## analyse the sample image end to end and print the result
	@localstack/scripts/stack.sh demo

test:   ## start the services, run every test, stop what was started
	@localstack/scripts/stack.sh test

up:     ## the whole local stack in the background (API :8228, registry :5000, LocalStack :4566, PostgreSQL)
	@localstack/scripts/stack.sh up

down:   ## stop the local stack
	@localstack/scripts/stack.sh down

status:
	@localstack/scripts/stack.sh status

env:    ## print the environment to use the running stack: eval "$$(make -s env)"
	@localstack/scripts/stack.sh env

build:
	cargo build --workspace

package: ## release Lambda zips for infra/template.yaml: target/lambda/<binary>/bootstrap.zip (cargo-lambda + zig from PyPI)
	@localstack/scripts/deploy.sh package

bench:  ## customs vs syft and trivy on one machine: bench/results/<date>.{json,md,png} (see bench/README.md)
	@bench/bench.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	@localstack/scripts/stack.sh down
	rm -rf .local target
