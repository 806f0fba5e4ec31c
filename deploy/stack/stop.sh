#!/bin/sh
# Stop the local stack. With --purge, also delete its data.
# See stack.py beside this file. PYTHON sets the interpreter. By default it is
# the venv's python ($COSTPIPE_VENV, default <repo>/.venv), else python3.
here=$(dirname "$0")
venv=${COSTPIPE_VENV:-$here/../../.venv}
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" "$here/stack.py" stop "$@"
