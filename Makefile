# Makefile for pgrepl_admin, built with PGXS.
#
#   make && make install          build and install into the server found by pg_config
#   make installcheck             pg_regress suite on its own temporary instance, then the TAP suite
#   make faults                   the long fault mode: 200 kill -9 injections over every write path
#
# The scripts under scripts/ wrap these for a fresh Debian machine (see README.md).

MODULE_big = pgrepl_admin
OBJS = \
	pgrepl_admin.o \
	src/backup.o \
	src/backup_history.o \
	src/backup_slots.o \
	src/backup_worker.o \
	src/bgw_transaction.o \
	src/ca_key.o \
	src/cert_crypto.o \
	src/cert_ops.o \
	src/cert_renew.o \
	src/cert_sql.o \
	src/cert_store.o \
	src/durable_file.o \
	src/hba_file.o \
	src/hba_restore.o \
	src/hba_sql.o \
	src/hba_sync.o \
	src/hba_text.o \
	src/home_database.o \
	src/lag_sample.o \
	src/net_addresses.o \
	src/prepare_primary.o \
	src/replication_role.o \
	src/safe_search_path.o \
	src/scram_secret.o \
	src/server_config.o \
	src/settings.o \
	src/shmem.o \
	src/spi_query.o \
	src/sql_args.o \
	src/sql_version.o \
	src/standby.o \
	src/sync_fallback.o \
	src/sync_fallback_status.o \
	src/sync_pending.o \
	src/sync_promotion.o \
	src/sync_setting.o \
	src/synchronous.o \
	src/syncrep_text.o \
	src/task_registry.o \
	src/tls_probe.o \
	src/worker.o \
	src/worker_status.o

EXTENSION = pgrepl_admin
DATA = pgrepl_admin--1.0.sql pgrepl_admin--1.1.sql pgrepl_admin--1.2.sql \
	pgrepl_admin--1.0--1.1.sql pgrepl_admin--1.1--1.2.sql
SCRIPTS = scripts/pgrepl_clone_standby
SCRIPTS_built = scripts/pgrepl_sync_blocks
PGFILEDESC = "pgrepl_admin - administer streaming replication from SQL"

EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(srcdir)/pgrepl_admin.control)
PG_CPPFLAGS = -I$(srcdir)/src -DPGREPL_VERSION=\"$(EXTVERSION)\"
SHLIB_LINK += -lssl -lcrypto

REGRESS = setup worker_status settings prepare_primary certificates provisioning monitoring backup
REGRESS_OPTS = --temp-instance=./tmp_check_regress --temp-config=$(srcdir)/sql/regress.conf

TAP_TESTS = 1

EXTRA_CLEAN = build-deb tmp_check_regress scripts/pgrepl_sync_blocks fuzz/hba_text_fuzz fuzz/corpus

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the clone command's block comparison of files: plain C and threads, no server
scripts/pgrepl_sync_blocks: scripts/pgrepl_sync_blocks.c
	$(CC) $(CFLAGS) $(CPPFLAGS) -pthread $(LDFLAGS) $< -o $@

# libFuzzer harness for the pg_hba.conf text functions, built with clang and
# run without the server: make fuzz [FUZZ_SECONDS=60]
FUZZ_SECONDS ?= 60
fuzz/hba_text_fuzz: fuzz/hba_text_fuzz.c src/hba_text.c src/hba_text.h
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I$(srcdir)/src $(srcdir)/fuzz/hba_text_fuzz.c $(srcdir)/src/hba_text.c -o $@

fuzz: fuzz/hba_text_fuzz
	mkdir -p fuzz/corpus
	./fuzz/hba_text_fuzz -max_total_time=$(FUZZ_SECONDS) fuzz/corpus

.PHONY: fuzz

# Debian package postgresql-NN-pgrepl-admin for the server PG_CONFIG belongs
# to, built with dpkg-buildpackage from a copy of the tree so the checkout is
# left as it was: make deb [PG_CONFIG=/usr/lib/postgresql/NN/bin/pg_config]
# debian/control is made from debian/control.in for that version.  The .deb
# lands in build-deb/.
# Its version: a build from a git checkout is EXTVERSION+gitYYYYMMDDHHMMSS.COMMIT
# (the build time, UTC, then the commit), which sorts after EXTVERSION and
# after every earlier build, so that apt-get install over an earlier build
# replaces it; a build of a commit tagged vEXTVERSION, or from a tree without
# git (a release tarball), is EXTVERSION as debian/changelog says.
# DEB_VERSION=... overrides it.
DEB_GIT = git -C $(srcdir)
ifneq ($(filter deb,$(MAKECMDGOALS)),)
ifeq ($(origin DEB_VERSION),undefined)
DEB_VERSION := $(shell if $(DEB_GIT) rev-parse --git-dir >/dev/null 2>&1 && \
	! $(DEB_GIT) describe --exact-match --tags --match 'v$(EXTVERSION)' HEAD >/dev/null 2>&1; then \
	echo "$(EXTVERSION)+git$$(date -u +%Y%m%d%H%M%S).$$($(DEB_GIT) rev-parse --short=7 HEAD)"; \
	else echo "$(EXTVERSION)"; fi)
endif
endif
DEB_SRC = build-deb/pgrepl-admin-$(EXTVERSION)
# A server built from source (PostgreSQL 16 from scripts/build-pg16.sh: its
# bindir is not Debian's /usr/lib/postgresql/NN/bin): the package is built
# against that pg_config, with no build dependency on
# postgresql-server-dev-NN nor a dependency on postgresql-NN, neither of
# which is installed (doc/versions.md)
DEB_FROM_SOURCE = $(filter-out /usr/lib/postgresql/$(MAJORVERSION)/bin,$(shell $(PG_CONFIG) --bindir))
DEB_NO_SERVER_DEPENDS = -e 's/, postgresql-$(MAJORVERSION), /, /'
deb:
	rm -rf build-deb
	mkdir -p $(DEB_SRC)
	tar -C $(srcdir) --exclude=.git --exclude=./build-deb --exclude=./tmp_check \
		--exclude=./tmp_check_regress --exclude=./results --exclude='*.o' \
		--exclude='*.so' --exclude='*.bc' -cf - . | tar -C $(DEB_SRC) -xf -
	sed -e 's/PGVERSION/$(MAJORVERSION)/g' $(if $(DEB_FROM_SOURCE),$(DEB_NO_SERVER_DEPENDS)) \
		$(srcdir)/debian/control.in > $(DEB_SRC)/debian/control
	if [ "$(DEB_VERSION)" != "$(EXTVERSION)" ]; then \
		{ printf 'pgrepl-admin (%s) unstable; urgency=medium\n\n  * Build from a checkout.\n\n -- %s  %s\n\n' \
			"$(DEB_VERSION)" "$$(sed -n 's/^ -- \(.*>\)  .*/\1/p;T;q' $(srcdir)/debian/changelog)" "$$(date -R)"; \
		  cat $(srcdir)/debian/changelog; } > $(DEB_SRC)/debian/changelog; \
	fi
	cd $(DEB_SRC) && $(if $(DEB_FROM_SOURCE),PGREPL_DEB_PG_CONFIG=$(abspath $(DEB_FROM_SOURCE))/pg_config) \
		dpkg-buildpackage -us -uc -b $(if $(DEB_FROM_SOURCE),-d)
	@ls build-deb/*.deb

.PHONY: deb

# The long fault mode of t/097_faults.pl: kill -9 at random moments of every
# write path, after make install: make faults [FAULT_ITERATIONS=200]
# [FAULT_SEED=n]
FAULT_ITERATIONS ?= 200
faults:
	PGREPL_FAULT_ITERATIONS=$(FAULT_ITERATIONS) $(if $(FAULT_SEED),PGREPL_FAULT_SEED=$(FAULT_SEED)) \
		$(MAKE) installcheck REGRESS= PROVE_TESTS=t/097_faults.pl

.PHONY: faults
