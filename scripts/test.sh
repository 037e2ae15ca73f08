#!/usr/bin/env bash
# npm test: the files that may share a worker's modules first, without isolation, then the files
# that need a process each (vitest.config.ts says which and why). Arguments go to both runs, as
# filters or options. Fails when either run fails; both always run.
set -uo pipefail
npx vitest run --project shared --isolate=false --passWithNoTests "$@"
shared=$?
npx vitest run --project isolated --passWithNoTests "$@"
isolated=$?
[ "$shared" -eq 0 ] && [ "$isolated" -eq 0 ]
