"""Deliberate breaks of MLX's own module class, run on the mlx adapter (registered into
meta_tests.breaks.BREAKS). Each patches one documented behaviour of ``mlx.nn.Module``; MLX is
imported inside each break, so that this module imports without it."""
from __future__ import annotations

import copy
import pickle

from meta_tests.breaks import brk


def _rebuilt(cls, state, items):
    """The unpickling half of ``mlx.pickle_unshares_modules``: every member from its own pickle."""
    module = cls.__new__(cls)
    module.__dict__.update(state)
    for key, blob in items:
        dict.__setitem__(module, key, pickle.loads(blob))
    return module


@brk("mlx.deepcopy_unshares_modules", "test_grad_and_copy.py", "test_copy_preserves_sharing and deepcopy",
     backend="mlx")
def _():
    """copy.deepcopy of an mlx.nn.Module copies each member with a memo of its own: a module held under two names comes out as two modules."""
    import mlx.nn as nn

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__dict__, {}))
        for key, value in self.items():
            dict.__setitem__(new, key, copy.deepcopy(value, {}))
        return new

    nn.Module.__deepcopy__ = __deepcopy__


@brk("mlx.pickle_unshares_modules", "test_grad_and_copy.py", "test_copy_preserves_sharing and pickle", backend="mlx")
def _():
    """pickle of an mlx.nn.Module pickles each member on its own: a module held under two names comes back as two modules."""
    import mlx.nn as nn

    nn.Module.__reduce_ex__ = lambda self, protocol: (
        _rebuilt, (type(self), dict(self.__dict__), [(key, pickle.dumps(value, protocol)) for key, value in self.items()]))


@brk("mlx.missing_attribute_is_none", "test_attributes.py", "test_missing_name_attribute_error", backend="mlx")
def _():
    """mlx.nn.Module.__getattr__ returns None for a name the module does not hold, instead of raising AttributeError."""
    import mlx.nn as nn

    nn.Module.__getattr__ = lambda self, key: self.get(key, None)
