"""Invariants of rich tensors (issue 11, parts 4 and 5): complex dtypes, views sharing one storage,
non-contiguous and channels-last layouts, through casts, moves, copies, loads and a build under a
device context. Checked by ``conformance/test_tensors.py``; the model is ``conformance/model_tensors.py``."""
from conformance.registry import Invariant

_COPY_LAW = ("structural law (design.md): round trips are identities (deepcopy, pickle, `torch.save`/`torch.load`): "
             "dtype, strides, values (complex ones included), requires_grad and grads are kept")
_TENSOR_TO = ('Tensor.to: "If the ``self`` Tensor already has the correct :class:`torch.dtype` and '
              ':class:`torch.device`, then ``self`` is returned. Otherwise, the returned tensor is a copy of '
              '``self`` with the desired :class:`torch.dtype` and :class:`torch.device`."')

INVARIANTS = [
    Invariant("tens.register.as_given", "reference", "tensors",
              'register_buffer: "tensor (Tensor or None): buffer to be registered." (law: a tensor is registered as '
              'given, a Parameter wraps its data: dtype, strides, values and storage sharing are those the program '
              'built)', "torch.nn.Module.register_buffer"),
    Invariant("tens.cast.dtype_values", "documented", "tensors",
              'to: "this method will only cast the floating point or complex parameters and buffers to :attr:`dtype` '
              '(if given)." float: "Casts all floating point parameters and buffers to ``float`` datatype." '
              '(double, half likewise: complex tensors are not floating point) '
              'Tensor.to: "Default: ``torch.preserve_format``." (strides kept; grads follow their parameter; '
              'values are Tensor.to\'s)', "torch.nn.Module.to"),
    Invariant("tens.cast.storage_sharing", "documented", "tensors",
              _TENSOR_TO + " (a tensor a cast changes gets storage of its own; the others keep theirs, views "
              "of one storage keep sharing it)", "torch.nn.Module.to"),
    Invariant("tens.cast.memory_format", "documented", "tensors",
              'to: "memory_format (:class:`torch.memory_format`): the desired memory format for 4D parameters and '
              'buffers in this module (keyword only argument)" (4-d parameters, buffers and grads end channels-last, '
              "any dtype; other tensors keep their strides; dtypes and values kept)", "torch.nn.Module.to"),
    Invariant("tens.move.layout_values", "reference", "tensors",
              "structural law (design.md): round trips are identities (`to(X).to(back)`): dtypes (complex included), "
              'strides and values kept; on the target, dtype and strides are the source\'s. Tensor.to: '
              '"Default: ``torch.preserve_format``."', "torch.nn.Module.to"),
    Invariant("tens.move.storage_sharing", "documented", "tensors",
              _TENSOR_TO + " (a move copies each parameter and buffer on its own: after a round trip no two of them "
              "share storage)", "torch.nn.Module.to"),
    Invariant("tens.copy.layout_values", "reference", "tensors", _COPY_LAW, "torch.nn.Module"),
    Invariant("tens.copy.storage_sharing", "documented", "tensors",
              'save: "PyTorch preserves storage sharing across serialization." (deepcopy and pickle: structural '
              "law (design.md), copies preserve the sharing structure: tensors that are views of one storage stay "
              "views of one storage)", "torch.save"),
    Invariant("tens.load.keeps_destination", "documented", "tensors",
              'load_state_dict: "Copy parameters and buffers from :attr:`state_dict` into this module and its '
              'descendants." (law: values are copied into the existing tensors, so each keeps its strides, '
              "whatever the source's, and its storage sharing; loaded values, complex included, are the source's)",
              "torch.nn.Module.load_state_dict"),
    Invariant("tens.context.builds_on_device", "documented", "tensors",
              'torch.device: "can be used as a context manager to change the default device tensors are allocated '
              'on" (the program run under the context builds the same graph there: dtypes, shapes, strides, ties '
              "and shared buffers as the blueprint says)", "torch.device"),
    Invariant("tens.context.to_empty_load", "documented", "tensors",
              'to_empty: "Move the parameters and buffers to the specified device without copying storage." '
              'load_state_dict: "Copy parameters and buffers from :attr:`state_dict` into this module and its '
              'descendants." (a graph built under torch.device(meta), then to_empty and a load of the cpu '
              "build's state dict: on the device with the blueprint's dtypes and shapes, loaded values restored)",
              "torch.nn.Module.to_empty"),
    Invariant("tens.context.to_empty_keeps_sharing", "reference", "tensors",
              "structural law (design.md): an operation that is not about structure preserves the sharing "
              "structure (which names are the same parameter, the same buffer): to_empty of a graph built under "
              'torch.device(meta)', "torch.nn.Module.to_empty"),
]
