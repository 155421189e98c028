"""The reference model agrees with the worked examples of spec/invariants.md.

Each graph is the spec's example written as a Blueprint literal (a parameterless ``nn.Module``
node stands in for ``ReLU``), and each expected value is copied from the spec text, not
obtained from torch.
"""
from conformance import model
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec


class Draft:
    """Builds a blueprint by hand; the last node added is the root."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.tensors: list[TensorSpec] = []

    def tensor(self) -> int:
        self.tensors.append(TensorSpec((1,), "float32", seed=len(self.tensors)))
        return len(self.tensors) - 1

    def add(self, kind: str, *slots: Slot, args=()) -> int:
        self.nodes.append(Node(kind, tuple(slots), args))
        return len(self.nodes) - 1

    def relu(self) -> int:
        return self.add("Module")

    def linear(self, weight=None, bias=None) -> int:
        weight = self.tensor() if weight is None else weight
        bias = self.tensor() if bias is None else bias
        return self.add("Linear", P("weight", weight, "setattr"), P("bias", bias, "setattr"), args=(1, 1, True))

    def seq(self, *children) -> int:
        return self.add("Sequential", *(C(str(j), c) for j, c in enumerate(children)))

    def module(self, *slots: Slot, kind="Module") -> int:
        return self.add(kind, *slots)

    @property
    def bp(self) -> Blueprint:
        return Blueprint(tuple(self.nodes), tuple(self.tensors))


def C(name, ref):
    return Slot("child", name, ref)


def P(name, ref, via="register"):
    return Slot("param", name, ref, via=via)


def B(name, ref, persistent=True):
    return Slot("buffer", name, ref, persistent)


def names(pairs):
    return [name for name, _ in pairs]


# -- traversal ----------------------------------------------------------------------------------
def test_preorder_example():
    # m.b = Sequential(Linear, Sequential(ReLU)); m.a = Linear
    d = Draft()
    b = d.seq(d.linear(), d.seq(d.relu()))
    d.module(C("b", b), C("a", d.linear()))
    assert names(model.named_modules(d.bp)) == ["", "b", "b.0", "b.1", "b.1.0", "a"]


def test_prefix_example():
    d = Draft()
    d.seq(d.seq(d.relu()))
    assert names(model.named_modules(d.bp, prefix="p")) == ["p", "p.0", "p.0.0"]


def _l_relu_l():
    d = Draft()
    l = d.linear()
    d.seq(l, d.relu(), l)
    return d


def test_dedup_example():
    bp = _l_relu_l().bp
    assert names(model.named_modules(bp)) == ["", "0", "1"]
    assert names(model.named_modules(bp, remove_duplicate=False)) == ["", "0", "1", "2"]


def test_first_path_wins_example():
    # m.x = Sequential(ReLU(), l); m.y = l
    d = Draft()
    l = d.linear()
    d.module(C("x", d.seq(d.relu(), l)), C("y", l))
    assert names(model.named_modules(d.bp)) == ["", "x", "x.0", "x.1"]
    assert names(model.named_members(d.bp, "param")) == ["x.1.weight", "x.1.bias"]


def test_memo_example():
    # s = Sequential(ReLU(), l): memo={l} gives ['', '0'], memo={s} yields nothing
    d = Draft()
    l, relu = d.linear(), d.relu()
    s = d.seq(relu, l)
    memo = {l}
    assert names(model.named_modules(d.bp, memo=memo)) == ["", "0"]
    assert memo == {l, s, relu}  # updated in place: it holds every module yielded
    assert model.named_modules(d.bp, memo={s}) == []


def test_none_entries_example():
    d = Draft()
    p = d.tensor()
    d.module(Slot("buffer", "nb", None), P("np", None), C("nm", None), P("p", p))
    bp = d.bp
    assert names(model.named_modules(bp)) == [""]
    assert names(model.named_children(bp, bp.root)) == []
    assert names(model.named_members(bp, "param")) == ["p"]
    assert names(model.named_members(bp, "buffer")) == []
    assert model.state_dict_keys(bp) == ["p"]


def test_children_dedup_example():
    d = Draft()
    l = d.linear()
    d.seq(l, l)
    assert names(model.named_children(d.bp, d.bp.root)) == ["0"]


def _c_z_bz_y():
    # registering child c, then parameter z, buffer bz, parameter y
    d = Draft()
    c = d.linear()
    d.module(C("c", c), P("z", d.tensor()), B("bz", d.tensor()), P("y", d.tensor()))
    return d.bp


def test_parameters_order_example():
    assert names(model.named_members(_c_z_bz_y(), "param")) == ["z", "y", "c.weight", "c.bias"]


def test_recurse_false_example():
    d = Draft()
    d.seq(d.linear())
    assert model.named_members(d.bp, "param", recurse=False) == []
    d = Draft()
    d.linear()
    assert names(model.named_members(d.bp, "param", prefix="x", recurse=False)) == ["x.weight", "x.bias"]


def test_tied_parameters_example():
    # b.weight = a.weight in Sequential(a, b)
    d = Draft()
    a = d.linear()
    d.seq(a, d.linear(weight=d.nodes[a].slots[0].ref))
    assert names(model.named_members(d.bp, "param")) == ["0.weight", "0.bias", "1.bias"]
    assert names(model.named_members(d.bp, "param", remove_duplicate=False)) == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    # one Parameter under two names of one module
    d = Draft()
    t = d.tensor()
    d.module(P("p1", t), P("p2", t))
    assert names(model.named_members(d.bp, "param")) == ["p1"]
    assert names(model.named_members(d.bp, "param", remove_duplicate=False)) == ["p1", "p2"]


def test_remove_duplicate_false_turns_off_module_dedup_example():
    d = Draft()
    l = d.linear()
    d.seq(l, l)
    assert names(model.named_members(d.bp, "param", remove_duplicate=False)) == [
        "0.weight", "0.bias", "1.weight", "1.bias"]


def test_buffers_example():
    d = Draft()
    t = d.tensor()
    d.module(B("x", t), B("y", t), B("np", d.tensor(), persistent=False))
    assert names(model.named_members(d.bp, "buffer")) == ["x", "np"]
    assert names(model.named_members(d.bp, "buffer", remove_duplicate=False)) == ["x", "y", "np"]
    assert model.state_dict_keys(d.bp) == ["x", "y"]


# -- state_dict ---------------------------------------------------------------------------------
def test_state_dict_keys_example():
    # child lin, persistent pb, non-persistent npb, None buffer nb, None parameter nparam, parameter p
    d = Draft()
    lin = d.linear()
    d.module(C("lin", lin), B("pb", d.tensor()), B("npb", d.tensor(), persistent=False),
             Slot("buffer", "nb", None), P("nparam", None), P("p", d.tensor()))
    assert model.state_dict_keys(d.bp) == ["p", "pb", "lin.weight", "lin.bias"]


def test_state_dict_order_example():
    assert model.state_dict_keys(_c_z_bz_y()) == ["z", "y", "bz", "c.weight", "c.bias"]


def test_state_dict_shared_module_every_path_example():
    bp = _l_relu_l().bp
    assert model.state_dict_keys(bp) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert names(model.named_members(bp, "param")) == ["0.weight", "0.bias"]
    weight = bp.nodes[0].slots[0].ref
    assert [held for key, held in model.state_dict_entries(bp) if key.endswith("weight")] == [("tensor", weight)] * 2


def test_metadata_example():
    # Sequential(V()) where V has a Linear child c: paths '', '0', '0.c'
    d = Draft()
    v = d.module(C("c", d.linear()))
    d.seq(v)
    assert names(model.metadata_paths(d.bp)) == ["", "0", "0.c"]
    assert model.metadata_paths(d.bp)[1] == ("0", v)


def test_prefix_verbatim_example():
    d = Draft()
    d.module(P("p", d.tensor()), C("lin", d.linear()))
    assert model.state_dict_keys(d.bp, prefix="x.") == ["x.p", "x.lin.weight", "x.lin.bias"]
    assert names(model.metadata_paths(d.bp, prefix="x.")) == ["x", "x.lin"]
    assert model.state_dict_keys(d.bp, prefix="x") == ["xp", "xlin.weight", "xlin.bias"]


def test_extra_state_example():
    d = Draft()
    e = d.module(P("w", d.tensor()), C("c", d.linear()), kind="ExtraState")
    assert model.state_dict_keys(d.bp) == ["w", "_extra_state", "c.weight", "c.bias"]
    d.seq(e)
    assert model.state_dict_keys(d.bp)[:2] == ["0.w", "0._extra_state"]
    assert ("0._extra_state", ("extra", e)) in model.state_dict_entries(d.bp)


# -- apply --------------------------------------------------------------------------------------
def test_apply_postorder_example():
    # root(a(a1, a2), b)
    d = Draft()
    a1, a2 = d.relu(), d.relu()
    a = d.module(C("a1", a1), C("a2", a2))
    b = d.relu()
    root = d.module(C("a", a), C("b", b))
    label = {a1: "a1", a2: "a2", a: "a", b: "b", root: "root"}
    assert [label[i] for i in model.apply_order(d.bp)] == ["a1", "a2", "a", "b", "root"]


def test_apply_shared_per_parent_example():
    # root(sh, x(sh)): once per parent; two names under one parent: once
    d = Draft()
    sh = d.relu()
    x = d.module(C("sh", sh), C("again", sh))
    root = d.module(C("sh", sh), C("x", x))
    label = {sh: "sh", x: "x", root: "root"}
    assert [label[i] for i in model.apply_order(d.bp)] == ["sh", "sh", "x", "root"]


def test_apply_skips_none_children():
    d = Draft()
    a = d.relu()
    root = d.module(C("gone", None), C("a", a))
    assert model.apply_order(d.bp) == [a, root]


# -- helpers ------------------------------------------------------------------------------------
def test_join_adds_a_dot_only_after_a_prefix():
    assert (model.join("", "a"), model.join("p", "a"), model.join("a.b", "c")) == ("a", "p.a", "a.b.c")


def test_plain_attributes_and_tensor_roles_cover_reachable_nodes_only():
    d = Draft()
    unreachable = d.module(P("lost", d.tensor()))
    x, p, b = d.tensor(), d.tensor(), d.tensor()
    leaf = d.module(Slot("plain", "x", x, via="setattr"), P("p", p))
    d.module(C("leaf", leaf), B("b", b))
    assert model.plain_attributes(d.bp) == [(leaf, "x", x)]
    assert model.tensor_roles(d.bp) == {p: "param", b: "buffer"}
    assert unreachable not in d.bp.reachable()
