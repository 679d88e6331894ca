# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB ?= chaindb.sqlite3
PYTEST_ARGS ?= -n 2 --durations=20
# Run a second time through a real PgBouncer in transaction mode (tests/pgbouncer.py): the
# ledger, the migration lock and concurrent migrations, row-level security's per-transaction
# wallet, and ad hoc queries (about a minute on 2 cores).
PGBOUNCER_TESTS ?= tests/ledger tests/migrations/test_lock.py tests/migrations/test_concurrency.py \
	tests/assets/test_security.py tests/test_query.py

.PHONY: install demo test test-encrypted test-pgbouncer lint bench bench-volume clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "chaindb needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: install
	@echo "== chaindb demo: a new embedded SQLite database at ./$(DEMO_DB), an in-process EVM"
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	CHAINDB_URL=sqlite:///$(DEMO_DB) $(BIN)/chaindb migrate
	CHAINDB_URL=sqlite:///$(DEMO_DB) $(BIN)/chaindb status
	CHAINDB_URL=sqlite:///$(DEMO_DB) $(BIN)/chaindb demo

test: install
	scripts/ensure-chromium
	scripts/ensure-pgbouncer
	scripts/ensure-patroni
	scripts/with-postgres sh -c 'scripts/test-suite $(BIN)/pytest $(PYTEST_ARGS) \
		&& $(BIN)/pytest $(PYTEST_ARGS) --through-pgbouncer $(PGBOUNCER_TESTS)'

# Every SQLite test on encrypted databases (make test runs the storage layer's).
test-encrypted: install
	ENCRYPTED_TESTS=tests scripts/with-postgres scripts/test-encrypted $(BIN)/pytest $(PYTEST_ARGS)

test-pgbouncer: install
	scripts/ensure-pgbouncer
	scripts/with-postgres $(BIN)/pytest $(PYTEST_ARGS) --through-pgbouncer $(PGBOUNCER_TESTS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Each prints JSON; the PostgreSQL server is fsync on (WITH_POSTGRES_DURABLE).
BENCHES ?= migrate ledger ledger_workers ops chain assets games creators storage studio \
	partitions partitions_plays

bench: install
	WITH_POSTGRES_DURABLE=1 scripts/with-postgres sh -c \
		'for b in $(BENCHES); do $(BIN)/python bench/$$b.py || exit 1; done'

# The ledger at volume (bench/ledger_volume.py): BENCH_VOLUME_TRANSFERS (default 200,000;
# 10000000 for the full run), BENCH_VOLUME_USERS (default 10000,100000).
bench-volume: install
	@WITH_POSTGRES_DURABLE=1 scripts/with-postgres $(BIN)/python bench/ledger_volume.py

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache
