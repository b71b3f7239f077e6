# Loaded automatically when this folder is on PYTHONPATH while building the mediasoup
# 3.8.4 worker: its bundled gyp still imports ABCs from `collections`, which Python 3.10
# removed. Alias them back to `collections.abc` so gyp runs on a current Python.
import collections
import collections.abc

for _name in ("MutableSet", "Mapping", "MutableMapping", "Sequence", "Iterable", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
