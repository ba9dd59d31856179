#!/bin/sh
# kdial's install, shared by the Dockerfile's build stage and tests/integration/test_images.py
# (which replays it, since no image is built on a machine without a container engine):
# build kdial's wheel from the source tree SRC, install it with its dependencies into a new
# virtualenv VENV, and check that the commands the image runs start.
# usage: install.sh SRC VENV   (PYTHON: the interpreter the virtualenv is made from)
set -eu
src=$1
venv=$2
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT

"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" wheel --no-deps --wheel-dir "$wheels" "$src"
"$venv/bin/pip" install "$wheels"/kdial-*.whl
for command in operator worker; do
    "$venv/bin/kdial" "$command" --help >/dev/null
done
