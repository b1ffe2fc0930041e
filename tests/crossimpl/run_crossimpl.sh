#!/usr/bin/env bash
# Cross-implementation byte test: kafka-python and kafkajs encode protocol bodies, Kaffa's
# generated code must decode each one and re-encode it to identical bytes.
#
# Usage: run_crossimpl.sh --checker PATH [--node PATH] [--python PATH] [--js-dir DIR]
#
# --checker  the kaffa_crossimpl_check binary
# --node     Node.js (default: node on PATH)
# --python   a Python with kafka-python, i.e. Debian's /usr/bin/python3 with python3-kafka
#            (default: /usr/bin/python3)
# --js-dir   the directory holding kafkajs's node_modules (default: tests/js); `npm ci` must
#            have been run there. A missing kafkajs fails the test, it is never skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checker=""
node="node"
python="/usr/bin/python3"
js_dir="$here/../js"

# Each source must produce at least this many vectors (they write 483 and 282 today), so a
# generator that silently stops covering APIs fails the test.
min_kafka_python=450
min_kafkajs=250

while [ $# -gt 0 ]; do
  case "$1" in
    --checker) checker="$2"; shift 2 ;;
    --node) node="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --js-dir) js_dir="$2"; shift 2 ;;
    *) echo "run_crossimpl.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

fail() { echo "crossimpl: FAIL: $*" >&2; exit 1; }

[ -n "$checker" ] && [ -x "$checker" ] || fail "checker binary '$checker' not found (--checker)"
command -v "$node" >/dev/null 2>&1 || fail "node '$node' not found (--node)"
command -v "$python" >/dev/null 2>&1 || fail "python '$python' not found (--python)"
"$python" -c 'import kafka.protocol' 2>/dev/null \
  || fail "'$python' cannot import kafka (kafka-python); install Debian's python3-kafka"
[ -f "$js_dir/node_modules/kafkajs/package.json" ] \
  || fail "kafkajs is not installed in $js_dir/node_modules: run 'npm ci' in $js_dir"

work="$(mktemp -d "${TMPDIR:-/tmp}/kaffa-crossimpl.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$python" "$here/kafka_python_vectors.py" "$work"
KAFFA_JS_DIR="$js_dir" "$node" "$here/kafkajs_vectors.js" "$work"

count() { find "$1" -type f -name '*.bin' | wc -l; }
n_py="$(count "$work/kafka-python")"
n_js="$(count "$work/kafkajs")"
[ "$n_py" -ge "$min_kafka_python" ] \
  || fail "kafka-python wrote $n_py vectors, expected at least $min_kafka_python"
[ "$n_js" -ge "$min_kafkajs" ] || fail "kafkajs wrote $n_js vectors, expected at least $min_kafkajs"

"$checker" --min "$((min_kafka_python + min_kafkajs))" "$work/kafka-python" "$work/kafkajs"
