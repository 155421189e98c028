"""Deliberate breaks for the layers properties (registered into meta_tests.breaks.BREAKS)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import batchnorm, rnn

from meta_tests.breaks import brk, wrap  # noqa: F401


@brk("layers.batchnorm_counter_cast", "test_layer_state.py", "test_cast_changes_floating_members_only")
def _():
    """BatchNorm's _apply casts num_batches_tracked along with the floating buffers."""
    def _apply(self, fn, recurse=True):
        nn.Module._apply(self, fn, recurse)
        if self.num_batches_tracked is not None and self.running_mean is not None:
            self.num_batches_tracked = self.num_batches_tracked.to(self.running_mean.dtype)
        return self

    batchnorm._NormBase._apply = _apply


@brk("layers.batchnorm_eval_updates", "test_layer_state.py", "test_batchnorm_running_stats_move_in_training_only")
def _():
    """BatchNorm in eval mode still updates its running statistics."""
    def make(orig):
        def forward(self, input):
            if self.training or self.running_mean is None:
                return orig(self, input)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(input.mean(0), alpha=self.momentum)
                self.running_var.mul_(1 - self.momentum).add_(input.var(0), alpha=self.momentum)
            return orig(self, input)
        return forward

    wrap(batchnorm._BatchNorm, "forward", make)


@brk("layers.rnn_stale_flat_weights", "test_layer_state.py", "test_rnn_uses_registered_parameters_after_cast")
def _():
    """RNNBase._apply forgets to refresh _flat_weights: after a conversion that makes new Parameter
    objects the recurrent layers keep computing with the old tensors."""
    rnn.RNNBase._apply = lambda self, fn, recurse=True: nn.Module._apply(self, fn, recurse)


@brk("layers.embedding_load_rezeroes_padding", "test_layer_state.py", "test_load_into_fresh_build")
def _():
    """Embedding's load puts zeros back in the padding_idx row instead of the loaded values."""
    def make(orig):
        def _load_from_state_dict(self, *args, **kwargs):
            orig(self, *args, **kwargs)
            if self.padding_idx is not None:
                with torch.no_grad():
                    self.weight[self.padding_idx].fill_(0)
        return _load_from_state_dict

    wrap(nn.Embedding, "_load_from_state_dict", make)


@brk("layers.layernorm_uninitialised_affine", "test_layer_state.py", "test_documented_initial_values")
def _():
    """LayerNorm's reset_parameters fills weight with 0.5 instead of ones."""
    def reset_parameters(self):
        if self.elementwise_affine:
            nn.init.constant_(self.weight, 0.5)
            if self.bias is not None:
                nn.init.zeros_(self.bias)

    nn.LayerNorm.reset_parameters = reset_parameters
