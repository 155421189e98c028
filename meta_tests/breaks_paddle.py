"""Deliberate breaks of Paddle's own module class, run on the paddle adapter (registered into
meta_tests.breaks.BREAKS). Each patches one documented behaviour of ``paddle.nn.Layer``; Paddle is
imported inside each break, so that this module imports without it."""
from __future__ import annotations

from meta_tests.breaks import brk, wrap


@brk("paddle.named_children_reversed", "test_traversal.py", "test_named_children", backend="paddle")
def _():
    """paddle.nn.Layer.named_children yields the children in reverse registration order."""
    import paddle

    wrap(paddle.nn.Layer, "named_children", lambda orig: lambda self: iter(list(orig(self))[::-1]))


@brk("paddle.train_not_recursive", "test_apply_train.py", "test_train_sets_every_module", backend="paddle")
def _():
    """paddle.nn.Layer.train sets the training flag of the layer itself only, not of its sublayers."""
    import paddle

    def train(self, mode=True):
        self.training = mode
        return self

    paddle.nn.Layer.train = train


@brk("paddle.named_parameters_reversed", "test_traversal.py", "test_named_parameters_order", backend="paddle")
def _():
    """paddle.nn.Layer.named_parameters yields the parameters in reverse order."""
    import paddle

    wrap(paddle.nn.Layer, "named_parameters", lambda orig: lambda self, *a, **k: iter(list(orig(self, *a, **k))[::-1]))
