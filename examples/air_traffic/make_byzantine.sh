#!/bin/sh
# Writes atc_byzantine.cmsl: atc.cmsl with a byzantine track database.
# The test examples/tests/atc_checks.rs fails when the two are out of step.
cd "$(dirname "$0")" || exit 1
{
    echo "// Generated from atc.cmsl by make_byzantine.sh: do not edit by hand."
    echo "// The same program with a track database that survives one replica failing"
    echo "// arbitrarily (model byzantine: 4 replicas, replies voted: tests/atc.rs runs it"
    echo "// with a replica lying, ftc run --byzantine h2@4)."
    echo "//"
    sed -e 's/(model crash, tolerate 1)/(model byzantine, tolerate 1)/' \
        -e 's/survives one crashed replica\./survives one replica that fails arbitrarily./' \
        -e 's/model crash tolerate (1) hosts (host ("h2"), host ("h3"));/model byzantine tolerate (1)\n        hosts (host ("h2"), host ("h3"), host ("h4"), host ("h5"));/' \
        atc.cmsl
} > atc_byzantine.cmsl
