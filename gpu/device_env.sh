# Sourced by the GPU scripts (device_session.sh, converge_device.sh), after they set OUT, DEVICE and TOTAL: the
# output folder, the time left (`left`), the wheels of .whl/ installed on a GPU (for a GPU host without a package
# index), and PY, the Python to run.
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
start=$(date +%s)
left() { echo $((TOTAL - ($(date +%s) - start))); }
PY=${PY:-python3}
if [ -d .whl ] && [ "$DEVICE" = cuda ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 3; }
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
[ -x .venv/bin/python ] && [ "$DEVICE" = cpu ] && PY=.venv/bin/python
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
