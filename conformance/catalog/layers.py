"""Invariants of built-in layers that keep their own state (issue 11, part 6), checked by
``conformance/test_layer_state.py`` on graphs from ``strategies.layer_state``."""
from conformance.registry import Invariant

_ROUND_TRIP = "structural law (design.md): round trips are identities"

INVARIANTS = [
    Invariant("layer.own.members", "reference", "layers",
              "Static table (strategies/layers.py OWN_STATE_LAYERS, from the layers' docstrings and constructors): a "
              "layer built by its constructor holds the documented members, in registration order, of the documented "
              "shapes, floating ones of the default dtype and num_batches_tracked int64; optional ones it was built "
              'without are registered as None. Conv1d: "If ``True``, adds a learnable bias to the output."',
              "torch.nn.Conv1d"),
    Invariant("layer.own.documented_init", "documented", "layers",
              'BatchNorm1d: "By default, the elements of :math:`\\gamma` are set to 1 and the elements of '
              ':math:`\\beta` are set to 0." LayerNorm: "The values are initialized to 1." "The values are '
              'initialized to 0." GroupNorm: "has learnable per-channel affine parameters initialized to ones (for '
              'weights) and zeros (for biases)" Embedding: "For a newly constructed Embedding, the embedding vector at '
              ':attr:`padding_idx` will default to all zeros" (checked at construction and after a cast: '
              'the old values converted)',
              "torch.nn.BatchNorm1d"),
    Invariant("layer.batchnorm.initial_stats", "reference", "layers",
              "Long-standing constructor behaviour (_NormBase.reset_running_stats): running_mean zeros, running_var "
              'ones, num_batches_tracked 0 (int64). BatchNorm1d: "during training this layer keeps running estimates '
              'of its computed mean and variance"',
              "torch.nn.BatchNorm1d"),
    Invariant("layer.own.cast", "documented", "layers",
              'to: "this method will only cast the floating point or complex parameters and buffers to :attr:`dtype` '
              '(if given). The integral parameters and buffers will be moved :attr:`device`, if that is given, but '
              'with dtypes unchanged." float: "Casts all floating point parameters and buffers to ``float`` datatype." '
              "(double, half, bfloat16 alike; values are the old values converted, so documented values such as an "
              "Embedding's zero padding row survive)",
              "torch.nn.Module.to"),
    Invariant("layer.own.move_round_trip", "reference", "layers",
              _ROUND_TRIP + " (to(X).to(back)): a layer's own members come back bit-identical with their dtypes, "
              'and a move lands every member on the target. to: "device (:class:`torch.device`): the desired device '
              'of the parameters and buffers in this module"',
              "torch.nn.Module.to"),
    Invariant("layer.own.load_round_trip", "documented", "layers",
              'load_state_dict: "Copy parameters and buffers from :attr:`state_dict` into this module and its '
              'descendants." (a fresh build of the same program, loaded with the state dict of a graph whose '
              "layers' state was changed, holds exactly that state, dtypes kept)",
              "torch.nn.Module.load_state_dict"),
    Invariant("layer.own.copy", "reference", "layers",
              _ROUND_TRIP + " (deepcopy, pickle, torch.save/torch.load): the copy's layers hold the same members "
              "with the same values, dtypes, None registrations and training flags, and still run",
              "torch.nn.Module"),
    Invariant("layer.batchnorm.running_stats", "documented", "layers",
              'BatchNorm1d: "Also by default, during training this layer keeps running estimates of its computed '
              'mean and variance, which are then used for normalization during evaluation." "The running estimates '
              'are kept with a default :attr:`momentum` of 0.1." "However, the value stored in the moving average of '
              'the variance is calculated via the unbiased estimator" (update rule of the momentum note; in eval '
              "mode the estimates are used, not updated)",
              "torch.nn.BatchNorm1d"),
    Invariant("layer.batchnorm.num_batches_tracked", "reference", "layers",
              "Long-standing behaviour (the counter that momentum=None averages by): num_batches_tracked counts the "
              "training-mode calls, one per call, stays int64, and does not change in eval mode",
              "torch.nn.BatchNorm1d"),
    Invariant("layer.rnn.uses_registered_parameters", "reference", "layers",
              'Law: the parameters a module registers are the ones its forward uses. parameters: "Return an iterator '
              'over module parameters." "This is typically passed to an optimizer." After a cast, under every '
              "torch.__future__ conversion setting, an LSTM/GRU still runs, its output has the new dtype, and "
              "zeroing its registered parameters in place makes its output zero",
              "torch.nn.Module.parameters"),
]
