"""Container invariants the suite adds to spec section 9: sequences of operations checked
against a plain list/dict model, and the laws that tie a container's contents to its members."""

from conformance.registry import Invariant

_LIST = 'ModuleList: "can be indexed like a regular Python list, but modules it contains are properly registered, and will be visible by all :class:`~torch.nn.Module` methods."'
_PL = 'ParameterList: "can be used like a regular Python list, but Tensors that are :class:`~torch.nn.Parameter` are properly registered, and will be visible by all :class:`~torch.nn.Module` methods."'
_PD = 'ParameterDict: "can be indexed like a regular Python dictionary, but Parameters it contains are properly registered, and will be visible by all Module methods. Other objects are treated as would be done by a regular Python dictionary"'
_MD = 'ModuleDict: "can be indexed like a regular Python dictionary, but modules it contains are properly registered, and will be visible by all :class:`~torch.nn.Module` methods." "is an **ordered** dictionary that respects * the order of insertion"'

INVARIANTS = [
    Invariant(
        "seq.operations_sequence",
        "reference",
        "containers",
        'Sequential: "Modules will be added to it in the order they are passed in the constructor." '
        "Structural law: any interleaving of index, len, iteration, append, insert, extend, del, pop, "
        "setitem, + and * behaves as on a Python list of the modules, keys renumbered from '0' "
        "(seq.setitem_delitem), with state_dict/named_parameters following the contents.",
        "torch.nn.Sequential",
    ),
    Invariant(
        "seq.inplace_matches_binary",
        "reference",
        "containers",
        'Sequential.extend example: "n.extend(other) # or `n + other`". Structural law (APIs agree): '
        "`s += o` and `s *= k` leave `s` holding what `s + o` and `s * k` hold, for any Sequential.",
        "torch.nn.Sequential.extend",
    ),
    Invariant("ml.operations_sequence", "documented", "containers", _LIST, "torch.nn.ModuleList"),
    Invariant("md.operations_sequence", "documented", "containers", _MD, "torch.nn.ModuleDict"),
    Invariant("pl.operations_sequence", "documented", "containers", _PL, "torch.nn.ParameterList"),
    Invariant("pd.operations_sequence", "documented", "containers", _PD, "torch.nn.ParameterDict"),
    Invariant("pl.list_semantics", "documented", "containers", _PL, "torch.nn.ParameterList"),
    Invariant(
        "pd.order.plain_dict_sorted",
        "reference",
        "containers",
        "Not documented (spec pd.order, IMPL): a plain dict passed to the ParameterDict constructor or "
        "to update() has its keys inserted in sorted order.",
        "torch.nn.ParameterDict.update",
    ),
    Invariant(
        "containers.parameter_order_follows_contents",
        "reference",
        "containers",
        "Structural law (APIs agree): a ParameterList's named_parameters()/state_dict() follow list order "
        'and a ParameterDict\'s follow key order (spec pd.order: "named_parameters() follows the same order"), '
        "whatever assignments led there.",
        "torch.nn.ParameterList",
    ),
]

INVARIANTS += [
    Invariant(
        "containers.param_extra_repr",
        "reference",
        "containers",
        'Module.extra_repr: "To print customized extra information, you should re-implement this method in your '
        'own modules." ParameterList and ParameterDict re-implement it; the per-entry layout (one line per entry, '
        "'  (key): Parameter containing: [<dtype> of size AxB]', 'Object of type: T' for other values) is "
        "long-standing behaviour, not a documented sentence (conformance.model_state [R1]).",
        "torch.nn.ParameterList.extra_repr",
    ),
]
