"""PaddlePaddle (``paddle.nn.Layer``) under the torch Module invariants: the profile and renderer.

See Note [framework profiles] in ``conformance.frameworks``.

How a blueprint maps onto Paddle (each choice is Paddle's documented way to say the same thing):

- a plain node is a ``paddle.nn.Layer()``; members are registered with Paddle's torch-named calls
  (``register_parameter``, ``register_buffer(..., persistable=)``, ``add_module``) or by attribute
  assignment, as the blueprint says. A buffer assigned as an attribute (torch: ``nn.Buffer``;
  Paddle has no buffer class) is rendered with ``register_buffer``, Paddle's only way to say
  whether a buffer persists;
- a parameter is ``paddle.nn.Parameter(data, requires_grad=...)`` (documented: "Parameter is a
  subclass of Tensor ..."; it takes every dtype drawn, so no draw is refused); a tensor that
  requires grad outside parameters is ``stop_gradient = False``; an attached gradient is assigned
  to ``.grad``; a view is the torch builder's slice-and-``view`` of its base (Paddle's slices of a
  detached tensor share its memory); a layout changes no value and Paddle tensors have none, so it
  is not rendered;
- containers are Paddle's own: ``Sequential`` -> ``paddle.nn.Sequential``, ``ModuleList`` ->
  ``paddle.nn.LayerList``, ``ModuleDict`` -> ``paddle.nn.LayerDict``, ``ParameterList`` and
  ``ParameterDict`` -> Paddle's of the same names, each built from the same items in the same order;
- built-in layers are not rendered: Paddle's layers hold other members than torch's blueprint says
  (``paddle.nn.Linear``'s weight is ``[in_features, out_features]``, torch's ``[out, in]``;
  ``BatchNorm1D`` keeps ``_mean``/``_variance`` and no ``num_batches_tracked``; the RNNs name their
  weights per layer and direction differently), so a test of a layer's own members would compare
  other layers. Tests that draw layers skip (``graphs``);
- ``ExtraState`` is not rendered: ``paddle.nn.Layer`` has ``get_extra_state`` only as a stub that
  raises ("a code path ... that should never be called"), no ``set_extra_state``, and
  ``state_dict`` never stores extra state.
"""
from __future__ import annotations

from conformance.frameworks import Framework, Profile, Unmapped, method

IMPORTS = "import math\nimport paddle\nfrom collections import OrderedDict\n"

VALUES = '''
def _t(shape, dtype, seed):
    """Deterministic small values: no RNG involved (as the torch builder's _t)."""
    v = [(k * 7 + seed) % 11 - 5 for k in range(math.prod(shape))]
    return paddle.to_tensor([x > 0 for x in v] if dtype == 'bool' else v).reshape(list(shape)).astype(dtype)


def _c(shape, dtype, seed):
    """Deterministic complex values: real part _t(.., seed), imaginary part _t(.., seed + 1)."""
    real = 'float32' if dtype == 'complex64' else 'float64'
    return paddle.complex(_t(shape, real, seed), _t(shape, real, seed + 1)).astype(dtype)
'''

# torch container kind -> Paddle's class
CONTAINERS = {"Sequential": "paddle.nn.Sequential", "ModuleList": "paddle.nn.LayerList",
              "ModuleDict": "paddle.nn.LayerDict", "ParameterList": "paddle.nn.ParameterList",
              "ParameterDict": "paddle.nn.ParameterDict"}
KINDS = ("Module", *CONTAINERS)


def _ref(kind, ref):
    return "None" if ref is None else f"{'n' if kind == 'child' else 't'}{ref}"


def _value(spec, seed):
    return f"{'_c' if spec.is_complex else '_t'}({spec.shape!r}, {spec.dtype!r}, {seed})"


def _tensor(i, spec, is_param) -> list[str]:
    if spec.view_of is not None:
        value = f"t{spec.view_of}.detach()[{spec.offset}:{spec.offset + spec.numel}].view({list(spec.shape)!r})"
    else:
        value = _value(spec, spec.seed)
    if is_param:
        lines = [f"t{i} = paddle.nn.Parameter({value}, requires_grad={spec.requires_grad})"]
    else:
        lines = [f"t{i} = {value}"] + ([f"t{i}.stop_gradient = False"] if spec.requires_grad else [])
    if spec.grad:
        lines.append(f"t{i}.grad = {_value(spec, spec.seed + 1)}")
    return lines


def _node(i, node) -> list[str]:
    var = f"n{i}"
    refs = [_ref(s.kind, s.ref) for s in node.slots]
    if node.kind == "Sequential":
        return [f"{var} = paddle.nn.Sequential({', '.join(refs)})"]
    if node.kind in ("ModuleList", "ParameterList"):
        return [f"{var} = {CONTAINERS[node.kind]}([{', '.join(refs)}])"]
    if node.kind in ("ModuleDict", "ParameterDict"):
        pairs = ", ".join(f"({s.name!r}, {r})" for s, r in zip(node.slots, refs))
        return [f"{var} = {CONTAINERS[node.kind]}(OrderedDict([{pairs}]))"]
    lines = [f"{var} = paddle.nn.Layer()"]
    for s, value in zip(node.slots, refs):
        if s.kind == "plain" or (s.via == "setattr" and s.kind != "buffer"):
            lines.append(f"{var}.{s.name} = {value}")
        elif s.kind == "param":
            lines.append(f"{var}.register_parameter({s.name!r}, {value})")
        elif s.kind == "buffer":
            lines.append(f"{var}.register_buffer({s.name!r}, {value}, persistable={s.persistent})")
        else:
            lines.append(f"{var}.add_module({s.name!r}, {value})")
    return lines


def render(bp) -> str:
    params = bp.param_ids()
    lines = []
    # bases before their views, as the torch builder
    for i, spec in sorted(enumerate(bp.tensors), key=lambda item: item[1].view_of is not None):
        lines += _tensor(i, spec, i in params)
    for i, node in enumerate(bp.nodes):
        lines += _node(i, node)
    lines.append(f"root = n{bp.root}")
    return VALUES + "\n" + "\n".join(lines) + "\n"


# -- method counterparts that are not a plain rename -------------------------------------------------

def _to(recv, args, kws, *, profile=None, api=""):
    """torch's ``to(dtype)``/``to(device)``/``to(device, dtype)`` overloads -> Paddle's documented
    ``Layer.to(device=None, dtype=None, blocking=None, non_blocking=None)``: a lone positional
    argument is a dtype when it names a ``paddle.`` dtype, else a device."""
    table = {"device": "device", "dtype": "dtype", "non_blocking": "non_blocking"}
    parts = []
    if len(args) > 2:
        raise Unmapped(f"{api}: {len(args)} positional arguments")
    if len(args) == 1:
        parts.append(f"{'dtype' if args[0].startswith('paddle.') else 'device'}={args[0]}")
    elif len(args) == 2:
        parts += [f"device={args[0]}", f"dtype={args[1]}"]
    for k, v in kws.items():
        if k not in table:
            raise Unmapped(f"{api}({k}=...): Layer.to has no counterpart of {k}")
        parts.append(f"{table[k]}={v}")
    return f"{recv}.to({', '.join(parts)})"


NO_DEVICE = "the paddle adapter builds on the host CPU only"
NO_EXTRA_STATE = ("paddle.nn.Layer has no extra state: get_extra_state is a stub that raises, there is no "
                  "set_extra_state, and state_dict stores none")
NO_LOAD_HOOKS = "paddle.nn.Layer has no load_state_dict hooks"
NO_SD_HOOK = ("paddle's register_state_dict_hook calls hook(destination) after the whole state dict is built; torch's "
              "state_dict hooks take (module, state_dict, prefix, local_metadata) per module")

# torch APIs that steps use on tensors, state dicts or modules the translator cannot tell apart
# from other objects (``m`` of ``for m in root.modules()``): Paddle has no counterpart of any.
NO_COUNTERPART = {
    "untyped_storage": "a paddle Tensor has no untyped_storage (no storage object to compare)",
    "_metadata": "paddle's state_dict is a plain OrderedDict: it records no _metadata (no per-module versions)",
}


PROFILE = Profile(
    lacking=NO_COUNTERPART,
    framework="paddle",
    distribution="paddlepaddle",
    extra=".[paddle]",
    imports=IMPORTS,
    render=render,
    kinds=KINDS,
    methods={
        # traversal: Paddle's torch-named iterators (generators, as torch's)
        "named_modules": method("named_modules", kwargs={"prefix": "prefix", "memo": "memo",
                                                         "remove_duplicate": "remove_duplicate"}),
        "modules": method("modules", kwargs={"remove_duplicate": None}),
        "children": method("children"),
        "named_children": method("named_children"),
        "named_parameters": method("named_parameters", kwargs={"prefix": "prefix", "recurse": "include_sublayers",
                                                               "remove_duplicate": "remove_duplicate"}),
        "named_buffers": method("named_buffers", kwargs={"prefix": "prefix", "recurse": "include_sublayers",
                                                         "remove_duplicate": "remove_duplicate"}),
        # parameters()/buffers() return lists in Paddle: adapt the container to torch's iterator
        "parameters": method("parameters", kwargs={"recurse": "include_sublayers"}, positional=1, wrap="iter({})"),
        "buffers": method("buffers", kwargs={"recurse": "include_sublayers"}, positional=1, wrap="iter({})"),
        # state: state_dict takes torch's keywords (destination, prefix, keep_vars); load_state_dict is torch's
        "state_dict": method("state_dict", kwargs={"destination": "destination", "prefix": "prefix",
                                                   "keep_vars": "keep_vars"}, positional=0),
        "load_state_dict": method("load_state_dict", kwargs={"state_dict": "state_dict", "strict": "strict",
                                                             "assign": "assign"}),
        # registration and lookup
        "register_parameter": method("register_parameter", kwargs={"name": "name", "param": "param"}),
        "register_buffer": method("register_buffer", kwargs={"name": "name", "tensor": "tensor",
                                                             "persistent": "persistable"}),
        "add_module": method("add_module", kwargs={"name": "name", "module": "module"}),
        "register_module": method("register_module", kwargs={"name": "name", "module": "module"}),
        "get_submodule": method("get_submodule", kwargs={"target": "target"}),
        "get_parameter": method("get_parameter", kwargs={"target": "target"}),
        "get_buffer": method("get_buffer", kwargs={"target": "target"}),
        "set_submodule": method("set_submodule", kwargs={"target": "target", "module": "layer", "strict": "strict"}),
        # modes, apply, grads
        "train": method("train", kwargs={"mode": "mode"}),
        "eval": method("eval"),
        "apply": method("apply", kwargs={"fn": "fn"}),
        "requires_grad_": method("requires_grad_", kwargs={"requires_grad": "requires_grad"}),
        "zero_grad": method("zero_grad", kwargs={"set_to_none": "set_to_none"}),
        "extra_repr": method("extra_repr"),
        # dtype and device casts
        "to": _to,
        "float": method("float", positional=0),
        "double": method("double", positional=0),
        "half": method("half", positional=0),
        "bfloat16": method("bfloat16", positional=0),
        "cpu": method("cpu", positional=0),
        "cuda": NO_DEVICE,
        "to_empty": NO_DEVICE + " (paddle.nn.Layer has no to_empty)",
        "share_memory": "paddle.nn.Layer has no share_memory",
        "compile": "paddle.nn.Layer has no compile (paddle.jit.to_static converts a whole layer)",
        "get_extra_state": NO_EXTRA_STATE,
        "set_extra_state": NO_EXTRA_STATE,
        # hooks
        "register_forward_pre_hook": method("register_forward_pre_hook",
                                            kwargs={"hook": "hook", "prepend": "prepend", "with_kwargs": "with_kwargs"}),
        "register_forward_hook": method("register_forward_hook",
                                        kwargs={"hook": "hook", "prepend": "prepend", "with_kwargs": "with_kwargs",
                                                "always_call": "always_call"}),
        "register_state_dict_post_hook": NO_SD_HOOK,
        "register_state_dict_pre_hook": NO_SD_HOOK,
        "_register_state_dict_hook": NO_SD_HOOK,
        "register_load_state_dict_pre_hook": NO_LOAD_HOOKS,
        "register_load_state_dict_post_hook": NO_LOAD_HOOKS,
        "_register_load_state_dict_pre_hook": NO_LOAD_HOOKS,
        **{name: "paddle.nn.Layer has no backward hooks" for name in (
            "register_full_backward_hook", "register_full_backward_pre_hook", "register_backward_hook")},
    },
    names={
        **{f"torch.{d}": f"paddle.{d}" for d in ("float32", "float64", "float16", "bfloat16", "int64", "int32",
                                                 "uint8", "bool", "complex64", "complex128")},
        "torch.zeros": "paddle.zeros", "torch.ones": "paddle.ones", "torch.no_grad": "paddle.no_grad",
        "nn.Module": "paddle.nn.Layer", "nn.Parameter": "paddle.nn.Parameter",
        "nn.Sequential": "paddle.nn.Sequential", "nn.ModuleList": "paddle.nn.LayerList",
        "nn.ModuleDict": "paddle.nn.LayerDict", "nn.ParameterList": "paddle.nn.ParameterList",
        "nn.ParameterDict": "paddle.nn.ParameterDict", "nn.ReLU": "paddle.nn.ReLU", "nn.Tanh": "paddle.nn.Tanh",
    },
    # torch's member registries: Paddle's ``_modules`` is its ``_sub_layers``; ``_parameters``/``_buffers``
    # have torch's names already
)


PADDLE = Framework("paddle", "PaddlePaddle paddle.nn.Layer, through the paddle profile", profile=PROFILE,
                         lacks={"forward": "the generated forwards are torch code; the paddle renderer builds no "
                                           "forward",
                                "devices": NO_DEVICE,
                                "torch-objects": "the test reads torch objects directly, not through a translated "
                                                 "step"})
