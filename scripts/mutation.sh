#!/usr/bin/env bash
# Mutation testing of pixelrs's core modules with mutmut: how many small deliberate bugs
# (flipped comparisons, changed constants, dropped statements, ...) the tests catch.
#
#   scripts/mutation.sh                      # the core modules (long: hours on 2 cores)
#   scripts/mutation.sh ui/links.py graphs/metrics.py   # just these
#   JOBS=4 scripts/mutation.sh ...           # parallel mutants (default: the number of CPUs)
#   KEEP=1 scripts/mutation.sh ui/links.py   # keep the scratch copy to look at survivors there:
#                                            #   cd <dir>; mutmut results; mutmut show <mutant>
#   MUTANTS='graphs.turn.x__absent_reply__* graphs.turn.x_build_turn_graph__mutmut_*0' \
#     scripts/mutation.sh graphs/turn.py     # only these mutants (mutmut's name patterns): a
#                                            # function, or a sample of a big module; the score
#                                            # then counts the mutants run ("not_checked": the rest)
#
# Runs in a scratch copy of the tracked files (the work tree is never touched), on SQLite only
# (PostgreSQL-marked tests are deselected), and prints one JSON object: per module the mutants
# killed, survived and otherwise ended, and the score (killed / all). Needs `pip install mutmut`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "$#" -gt 0 ]; then modules=("$@"); else
  modules=(agent/memory agent/types.py graphs/turn.py graphs/metrics.py ui/links.py ui/routes.py)
fi
jobs=${JOBS:-$(nproc)}
command -v mutmut >/dev/null || { echo "mutation.sh: mutmut is not installed (pip install mutmut)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pixelrs-mutation-XXXXXX")
if [ -n "${KEEP:-}" ]; then echo "mutation.sh: scratch copy kept in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
cd "$work"
python "$repo/scripts/mutation_config.py" "${modules[@]}" >> pyproject.toml
read -r -a only <<< "${MUTANTS:-}"
mutmut run --max-children "$jobs" "${only[@]}" > mutmut-run.log 2>&1 || { tail -c 3000 mutmut-run.log >&2; exit 1; }
mutmut results --all true 2>/dev/null | python "$repo/scripts/mutation_config.py" --score "${modules[@]}"
