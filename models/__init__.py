"""Model artefacts. Installed as the ``vitalstream_models`` package so the ONNX files and their
manifest ship with ``pip install 'vitalstream[edge]'``; training scripts live in ``models/training``
and are not installed."""
