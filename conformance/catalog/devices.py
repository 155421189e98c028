"""Invariants of device moves (issue 3), checked by ``conformance/test_devices.py``."""
from conformance.registry import Invariant

_TO_DEVICE = ('to: "device (:class:`torch.device`): the desired device of the parameters and buffers in this module"'
              ' Parameter: "Assigning a Tensor doesn\'t have such effect."')
_LAW_SHARING = ("structural law (design.md): an operation that is not about structure preserves the sharing "
                "structure (which names are the same module, the same parameter, the same buffer)")

INVARIANTS = [
    Invariant("dev.move.lands", "documented", "devices", _TO_DEVICE + ' "Returns: Module: self"', "torch.nn.Module.to"),
    Invariant("dev.move.round_trip", "reference", "devices",
              "structural law (design.md): round trips are identities (`to(X).to(back)`): values bit-identical, "
              "dtypes and requires_grad kept", "torch.nn.Module.to"),
    Invariant("dev.move.named_method", "documented", "devices",
              'cuda: "Move all model parameters and buffers to the GPU." cpu: "Move all model parameters and buffers '
              'to the CPU." (the PrivateUse1 backend\'s generated method likewise) "Returns: Module: self"',
              "torch.nn.Module.cuda"),
    Invariant("dev.move.to_device_dtype", "documented", "devices",
              'to: "this method will only cast the floating point or complex parameters and buffers to :attr:`dtype` '
              '(if given). The integral parameters and buffers will be moved :attr:`device`, if that is given, but '
              'with dtypes unchanged."', "torch.nn.Module.to"),
    Invariant("dev.move.non_blocking", "documented", "devices",
              'to: "When :attr:`non_blocking` is set, it tries to convert/move asynchronously with respect to the '
              'host if possible" (the result after synchronisation is the same)', "torch.nn.Module.to"),
    Invariant("dev.state_dict.across_devices", "reference", "devices",
              'load_state_dict: "Copy parameters and buffers from :attr:`state_dict` into this module and its '
              'descendants." (structural law: a state dict taken on one device loads into the same graph on another)',
              "torch.nn.Module.load_state_dict"),
    Invariant("dev.construct.device_context", "documented", "devices",
              'torch.device: "can be used as a context manager to change the default device tensors are allocated on"',
              "torch.device"),
    Invariant("dev.move.keeps_parameter_ties", "reference", "devices", _LAW_SHARING, "torch.nn.Module.to"),
    Invariant("dev.move.keeps_shared_buffers", "reference", "devices", _LAW_SHARING, "torch.nn.Module.to"),
    Invariant("dev.move.parameter_objects", "reference", "devices",
              'set_overwrite_module_params_on_conversion: "Sets whether to assign new tensors to the parameters '
              'instead of changing the existing parameters in-place when converting an ``nn.Module``." '
              'set_swap_module_params_on_conversion: "Sets whether to use :func:`~torch.utils.swap_tensors` instead '
              'of setting ``.data`` to change the existing parameters in-place"',
              "torch.__future__.set_overwrite_module_params_on_conversion"),
]
