#!/usr/bin/env bash
# The pinned venv pylidc 0.2.3 needs (it predates SQLAlchemy 1.4/2 and NumPy 1.24: np.int, declarative API), cached
# under ~/.cache/meta_db; prints its python. Fails (never skips) when PyPI cannot be reached.
set -euo pipefail
venv=${META_DB_PYLIDC_VENV:-$HOME/.cache/meta_db/pylidc-0.2.3}
if [[ ! -f $venv/.complete ]]; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'setuptools<70' 'numpy==1.23.5' 'sqlalchemy==1.3.24' \
    'scipy==1.10.1' 'scikit-image==0.20.0' 'matplotlib==3.7.5' 'pydicom==2.4.4' >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps 'pylidc==0.2.3' >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
