#!/bin/sh
# Runs NAME on a local cluster, kills a replica's host half-way, and checks
# that the output is the expected one. FTC names the ftc binary (default: ftc).
set -e
cd "$(dirname "$0")"
"${FTC:-ftc}" run NAME.cmsl --crash h2@0.5 > actual.txt
diff expected.txt actual.txt
echo "ok: NAME kept its balance through the crash"
