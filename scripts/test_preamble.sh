#!/usr/bin/env bash
# Printed before `make test` runs: which real components this run will use,
# so a skipped leg is visible in the first lines rather than buried in output.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1 && bwrap --ro-bind / / --unshare-all --die-with-parent true 2>/dev/null; then
  echo "sandbox: bubblewrap works ($(command -v bwrap)); isolation tests run"
elif [ "${ITSS_REQUIRE_SANDBOX:-}" = "1" ]; then
  echo "sandbox: bubblewrap missing or not working and ITSS_REQUIRE_SANDBOX=1: isolation tests will FAIL"
else
  echo "sandbox: bubblewrap missing or not working: isolation tests are SKIPPED (install the 'bubblewrap' package)"
fi
if [ -n "${ITSS_TEST_MYSQL_DSN:-}" ]; then
  echo "database: SQLite and MySQL/MariaDB (ITSS_TEST_MYSQL_DSN is set; unreachable = failure)"
else
  echo "database: SQLite only (set ITSS_TEST_MYSQL_DSN to add the MySQL/MariaDB leg)"
fi
for bin in python3 java javac node; do
  command -v "$bin" >/dev/null 2>&1 || echo "runtime: $bin not found: code-execution tests for it are skipped (fail with ITSS_REQUIRE_RUNTIMES=1)"
done
