"""MLX (``mlx.nn.Module``) under the torch Module invariants: the profile and renderer.

See Note [framework profiles] in ``conformance.frameworks``.

How a blueprint maps onto MLX (every choice is MLX's documented way to say the same thing; what
has no counterpart is rendered as MLX writes it and judged by the tests, design lines explain):

- a node is an ``mlx.nn.Module()``; every member is an attribute assignment, MLX's only way to
  register one ("A ``Module`` can contain other ``Module`` instances or ``mlx.core.array``
  instances ...": the module is a ``dict`` and arrays and modules assigned as attributes become
  its entries). ``register_parameter``/``register_buffer``/``add_module`` have no counterpart;
- a parameter is an array member; ``requires_grad=False`` is MLX's "frozen" parameter
  (``freeze(keys=[name], recurse=False)``: "Freezing a parameter means not computing gradients
  for it");
- a buffer is an array member frozen the same way, as MLX's own ``BatchNorm`` holds its running
  statistics. MLX has no buffers: ``parameters()`` returns every array member, buffers included.
  Persistence has no counterpart (``save_weights`` saves every array of ``parameters()``): a
  non-persistent buffer renders as any other buffer. A tensor's ``requires_grad`` outside
  parameters and an attached ``.grad`` have no counterpart (MLX returns gradients from
  ``value_and_grad``; arrays hold none) and are not rendered;
- a ``None`` slot is an attribute set to ``None``: ``Module.__setattr__`` keeps it as a plain
  Python attribute (it is no entry of the module's dict), as torch keeps it outside every
  iteration;
- a plain tensor attribute (torch: an unregistered attribute) is an array assigned as an
  attribute, which MLX makes a member like any other array (there is no unregistered array
  attribute in MLX);
- values are the torch builder's ``_t`` (same numbers, same dtype; MLX has every dtype that
  ``blueprints(...)`` draws);
- only ``Module`` nodes are rendered: torch's containers and built-in layers have other names
  and members in MLX (``nn.Sequential`` keeps its children in a ``layers`` list, so a child is
  ``layers.0``, not ``0``), and tensor views have no counterpart (arrays are values). Strategies
  are narrowed to ``Module`` nodes; a test drawing from one that cannot be narrowed skips,
  naming it (``Framework.graphs``).

Torch's named views map to MLX's documented flat view of the parameter tree:
``named_parameters()``/``state_dict()`` keys are ``tree_flatten(root.parameters())``,
``load_state_dict(sd, strict)`` is ``load_weights(list(sd.items()), strict)``, ``named_modules()``
and ``modules()`` are MLX's own (lists), ``children()``/``named_children()`` read MLX's
``children()`` dict, ``apply(fn)`` (which visits modules) is ``apply_to_modules`` (MLX's
``apply`` maps parameters), ``train``/``eval`` are MLX's own, and the floating casts
(``float()``, ``double()``, ``half()``, ``bfloat16()``, ``to(dtype)``) are ``set_dtype(dtype)``,
whose default predicate also casts floating arrays only. MLX never de-duplicates (a module or
array is listed once per name), so ``remove_duplicate=False`` maps to the plain call and any
other value has no counterpart. Results are MLX's as returned; a list is only made an iterator.
Torch's registries ``_parameters``/``_buffers``/``_modules`` read the module's own dict
(``Module.state``); torch dtypes and ``torch.zeros``/``ones``/``tensor`` are MLX's. Every other
torch API skips the test, naming it (``methods`` says why for the common ones).
"""
from __future__ import annotations

from conformance.frameworks import Framework, Profile, Unmapped, method

IMPORTS = "import math\nimport mlx.core as mx\nimport mlx.nn as nn\nfrom mlx.utils import tree_flatten\n"

VALUES = '''
def _t(shape, dtype, seed):
    """Deterministic small values: no RNG involved (as the torch builder's _t)."""
    v = [(k * 7 + seed) % 11 - 5 for k in range(math.prod(shape))]
    return mx.array([x > 0 for x in v] if dtype == mx.bool_ else v).reshape(shape).astype(dtype)
'''

DTYPES = {"float32": "mx.float32", "float64": "mx.float64", "float16": "mx.float16", "bfloat16": "mx.bfloat16",
          "int64": "mx.int64", "int32": "mx.int32", "uint8": "mx.uint8", "bool": "mx.bool_",
          "complex64": "mx.complex64"}


def _ref(kind, ref):
    return "None" if ref is None else f"{'n' if kind == 'child' else 't'}{ref}"


def render(bp) -> str:
    lines = []
    for i, spec in enumerate(bp.tensors):
        lines.append(f"t{i} = _t({spec.shape!r}, {DTYPES[spec.dtype]}, {spec.seed})")
    for i, node in enumerate(bp.nodes):
        var = f"n{i}"
        lines.append(f"{var} = nn.Module()")
        frozen = []
        for s in node.slots:
            lines.append(f"{var}.{s.name} = {_ref(s.kind, s.ref)}")
            if s.ref is not None and (s.kind == "buffer" or (s.kind == "param" and not bp.tensors[s.ref].requires_grad)):
                frozen.append(s.name)
        if frozen:
            lines.append(f"{var}.freeze(keys={frozen!r}, recurse=False)")
    lines.append(f"root = n{bp.root}")
    return VALUES + "\n" + "\n".join(lines) + "\n"


def _admits(bp) -> bool:
    """Views and complex128 have no MLX counterpart (arrays are immutable values; MLX has complex64 only)."""
    return all(t.view_of is None and t.dtype != "complex128" for t in bp.tensors)


def _every_path(kws, api):
    """``remove_duplicate=False`` asks for what MLX's traversals always do (list every name); any
    other value asks for a de-duplication MLX does not have."""
    kws = dict(kws)
    if "remove_duplicate" in kws:
        if kws.pop("remove_duplicate") != "False":
            raise Unmapped(f"{api}(remove_duplicate=...): MLX lists a module or array once per name; it has no "
                           "de-duplication")
    return kws


def _named_modules(name):
    def render(recv, args, kws, *, profile=None, api=""):
        kws = _every_path(kws, api)
        if args or kws:
            raise Unmapped(f"{api}: MLX's {name}() takes no arguments "
                           f"({', '.join([*args, *(f'{k}=' for k in kws)])} given)")
        return f"iter({recv}.{name}())"
    return render


def _flat(recv, args, kws, *, profile=None, api=""):
    """named_parameters/state_dict: MLX's flat view of the parameter tree."""
    if api.endswith(("named_parameters", ".parameters")):
        kws = _every_path(kws, api)
    if args or kws:
        raise Unmapped(f"{api}: tree_flatten(parameters()) takes no arguments "
                       f"({', '.join([*args, *(f'{k}=' for k in kws)])} given)")
    return f"tree_flatten({recv}.parameters())"


def _named_parameters(recv, args, kws, **kw):
    return f"iter({_flat(recv, args, kws, **kw)})"


def _parameters(recv, args, kws, **kw):
    return f"iter([v for _, v in {_flat(recv, args, kws, **kw)}])"


def _state_dict(recv, args, kws, **kw):
    return f"dict({_flat(recv, args, kws, **kw)})"


def _load_state_dict(recv, args, kws, *, profile=None, api=""):
    if len(args) + ("state_dict" in kws) != 1 or set(kws) - {"strict", "state_dict"}:
        raise Unmapped(f"{api}: load_weights takes the weights and strict= only (no assign=, no positional strict)")
    sd = args[0] if args else kws["state_dict"]
    strict = f", strict={kws['strict']}" if "strict" in kws else ""
    return f"{recv}.load_weights(list({sd}.items()){strict})"


def _apply(recv, args, kws, *, profile=None, api=""):
    if len(args) != 1 or kws:
        raise Unmapped(f"{api}: apply_to_modules takes one function")
    return f"{recv}.apply_to_modules(lambda _name, _module: ({args[0]})(_module))"


def _children(recv, args, kws, *, profile=None, api=""):
    if args or kws:
        raise Unmapped(f"{api}: children() takes no arguments")
    return f"iter({recv}.children().values())"


def _named_children(recv, args, kws, *, profile=None, api=""):
    if args or kws:
        raise Unmapped(f"{api}: children() takes no arguments")
    return f"iter({recv}.children().items())"


def _to(recv, args, kws, *, profile=None, api=""):
    """``to(dtype)``: MLX's set_dtype (which, as ``to``, casts floating arrays only by default)."""
    values = [*args, *(v for k, v in kws.items() if k == "dtype")]
    if len(values) == 1 and len(args) + len(kws) == 1 and values[0].startswith("mx.") and values[0] in DTYPES.values():
        return f"{recv}.set_dtype({values[0]})"
    raise Unmapped(f"{api}: {NO_DEVICE}; set_dtype takes a dtype only")


def _type(recv, args, kws, *, profile=None, api=""):
    """``type(dst_type)`` ("Casts all parameters and buffers to dst_type"): set_dtype without its
    floating-only predicate ("predicate=None" casts every array)."""
    values = [*args, *(v for k, v in kws.items() if k == "dst_type")]
    if len(values) == 1 and len(args) + len(kws) == 1 and values[0] in DTYPES.values():
        return f"{recv}.set_dtype({values[0]}, predicate=None)"
    raise Unmapped(f"{api}: set_dtype takes an MLX dtype (not a tensor type name)")


def _set_dtype(dtype):
    def render(recv, args, kws, *, profile=None, api=""):
        if args or kws:
            raise Unmapped(f"{api}: set_dtype takes the dtype only")
        return f"{recv}.set_dtype({dtype})"
    return render


NO_BUFFERS = ("MLX has no buffers: every array member of a Module is in parameters() (non-trainable state is a "
              "frozen parameter)")
NO_HOOKS = "mlx.nn.Module has no hooks"
NO_REGISTER = "MLX registers members by attribute assignment only (Module is a dict of its members)"
NO_GRAD = "MLX arrays hold no gradient (mlx.nn.value_and_grad returns gradients)"
NO_DEVICE = ("MLX arrays live in shared memory (an operation chooses the device it runs on): an mlx.nn.Module "
             "has no device to move to")

PROFILE = Profile(
    framework="mlx",
    distribution="mlx",
    extra=".[mlx]",
    imports=IMPORTS,
    render=render,
    kinds=("Module",),
    admits=_admits,
    methods={
        "named_modules": _named_modules("named_modules"),
        "modules": _named_modules("modules"),
        "children": _children,
        "named_children": _named_children,
        "named_parameters": _named_parameters,
        "parameters": _parameters,
        "state_dict": _state_dict,
        "load_state_dict": _load_state_dict,
        "train": method("train", kwargs={"mode": "mode"}),
        "eval": method("eval"),
        "apply": _apply,
        "requires_grad_": ("MLX's counterpart is freeze()/unfreeze(), but an MLX array carries no requires_grad "
                           "flag to observe (only trainable_parameters() tells frozen arrays apart)"),
        "float": _set_dtype("mx.float32"),
        "double": _set_dtype("mx.float64"),
        "half": _set_dtype("mx.float16"),
        "bfloat16": _set_dtype("mx.bfloat16"),
        "named_buffers": NO_BUFFERS,
        "buffers": NO_BUFFERS,
        "register_buffer": NO_REGISTER,
        "register_parameter": NO_REGISTER,
        "register_module": NO_REGISTER,
        "add_module": NO_REGISTER,
        "get_submodule": "mlx.nn.Module has no lookup by dotted path",
        "get_parameter": "mlx.nn.Module has no lookup by dotted path",
        "get_buffer": NO_BUFFERS,
        "zero_grad": NO_GRAD,
        "to": _to,
        "type": _type,
        "cpu": NO_DEVICE,
        "cuda": NO_DEVICE,
        "to_empty": NO_DEVICE,
        "extra_repr": "mlx.nn.Module's repr hook _extra_repr is private",
        "get_extra_state": "mlx.nn.Module has no extra state",
        "set_extra_state": "mlx.nn.Module has no extra state",
        "share_memory": NO_DEVICE,
        **{name: NO_HOOKS for name in (
            "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
            "register_full_backward_pre_hook", "register_backward_hook", "register_state_dict_pre_hook",
            "register_state_dict_post_hook", "register_load_state_dict_pre_hook",
            "register_load_state_dict_post_hook", "_register_state_dict_hook", "_register_load_state_dict_pre_hook")},
    },
    names={"torch.float32": "mx.float32", "torch.float64": "mx.float64", "torch.float16": "mx.float16",
           "torch.bfloat16": "mx.bfloat16", "torch.int64": "mx.int64", "torch.int32": "mx.int32",
           "torch.uint8": "mx.uint8", "torch.bool": "mx.bool_", "torch.zeros": "mx.zeros", "torch.ones": "mx.ones",
           "torch.tensor": "mx.array",
           "nn.Module": "nn.Module", "nn.Identity": "nn.Identity"},
    # torch's registries of a module's members: MLX's is the module's own dict, documented as
    # Module.state ("any attribute set on the module including parameters in Module.parameters")
    attributes={"_modules": "{}.state", "_parameters": "{}.state", "_buffers": "{}.state"},
)


MLX = Framework("mlx", "MLX mlx.nn.Module, through the mlx profile", profile=PROFILE,
                 lacks={"forward": "the generated forwards are torch code; the mlx renderer builds no forward",
                        "devices": "the mlx adapter builds on the host CPU only (MLX arrays live in shared memory and are "
                                   "never moved between devices)",
                        "containers": "mlx.nn has Sequential only (its other containers are the Python lists and "
                                      "dicts a Module holds); the mlx renderer builds nn.Module nodes",
                        "hooks": "mlx.nn.Module has no hooks",
                        "torch-objects": "the test reads torch objects directly, not through a translated step"})
