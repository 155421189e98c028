"""The rich-tensor model (conformance/model_tensors.py) on hand-worked blueprints, and the builder's
rendering of the new TensorSpec fields (pure text; the values they build are checked against torch
by conformance/test_tensors.py)."""
from conformance import build
from conformance import model_devices as md
from conformance import model_tensors as mt
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec

# root: p (param, complex64, base of views), q (param view of p at 1), a (buffer view of p at 2, (1, 2)),
# t (transposed 2x3 buffer), c (channels-last buffer), h: a view of the unheld base 5, z (zero-size buffer)
TENSORS = (
    TensorSpec((4,), "complex64", True, True, 0),
    TensorSpec((2,), "complex64", True, False, 1, view_of=0, offset=1),
    TensorSpec((1, 2), "complex64", seed=2, view_of=0, offset=2),
    TensorSpec((2, 3), "float32", seed=3, layout="transposed"),
    TensorSpec((1, 2, 2, 3), "float64", seed=4, layout="channels_last"),
    TensorSpec((3,), "float16", seed=5),
    TensorSpec((2,), "float16", seed=6, view_of=5, offset=1),
    TensorSpec((0, 2), "float32", seed=7),
)
ROOT = Node("Module", (Slot("param", "p", 0), Slot("param", "q", 1), Slot("buffer", "a", 2, persistent=False),
                       Slot("buffer", "t", 3), Slot("buffer", "c", 4), Slot("buffer", "h", 6), Slot("buffer", "z", 7)))
BP = Blueprint((ROOT,), TENSORS)
LABEL = {name: f"getattr(n0, {name!r})" for name in "pqatchz"}


def test_strides_by_layout():
    assert [mt.strides(BP, t) for t in range(len(TENSORS))] == [
        (1,), (1,), (2, 1), (1, 2), (12, 1, 6, 2), (1,), (1,), (2, 1)]
    assert mt.contiguous_strides((2, 0, 3)) == (3, 3, 1)


def test_value_sources():
    locs = {(loc.name, loc.what): loc for loc in md.locations(BP)}
    assert mt.value_source(BP, locs["p", "param"]) == mt.Source((4,), "complex64", 0, (4,))
    assert mt.value_source(BP, locs["p", "grad"]) == mt.Source((4,), "complex64", 1, (4,))
    assert mt.value_source(BP, locs["a", "buffer"]) == mt.Source((4,), "complex64", 0, (1, 2), 2, 4)
    assert mt.value_source(BP, locs["h", "buffer"]) == mt.Source((3,), "float16", 5, (2,), 1, 3)


def test_storage_groups_as_built_and_after_casts():
    locs = mt.observed(BP, nonempty=True)
    assert [loc.name for loc in locs] == ["p", "q", "a", "t", "c", "h"]  # z is empty
    assert mt.storage_groups(BP, locs) == [[LABEL["p"], LABEL["q"], LABEL["a"]], [LABEL["t"]], [LABEL["c"]], [LABEL["h"]]]
    double, to64 = mt.CASTS[1], mt.CASTS[3]
    assert mt.recast(BP, double) == {3, 5, 6, 7} - {5}  # floating ones (5 is unheld): complex kept by double()
    assert mt.storage_groups(BP, locs, fresh=mt.recast(BP, double)) == \
        [[LABEL["p"], LABEL["q"], LABEL["a"]], [LABEL["t"]], [LABEL["c"]], [LABEL["h"]]]
    assert mt.recast(BP, to64) == {0, 1, 2, 3, 6, 7}  # to(float64) casts complex too; c is already float64
    assert mt.storage_groups(BP, locs, fresh=mt.recast(BP, to64)) == \
        [[LABEL["p"]], [LABEL["q"]], [LABEL["a"]], [LABEL["t"]], [LABEL["c"]], [LABEL["h"]]]


def test_cast_dtype_rules():
    by_call = {c.call: c for c in mt.CASTS}
    assert mt.cast_dtype("complex64", by_call["float()"]) == "complex64"
    assert mt.cast_dtype("complex64", by_call["half()"]) == "complex64"
    assert mt.cast_dtype("complex128", by_call["to(torch.float32)"]) == "float32"
    assert mt.cast_dtype("float16", by_call["to(torch.complex64)"]) == "complex64"
    assert mt.cast_dtype("int64", by_call["to(torch.complex128)"]) == "int64"
    assert mt.cast_dtype("bool", by_call["double()"]) == "bool"
    assert mt.discards_imaginary("complex64", by_call["to(torch.float64)"])
    assert not mt.discards_imaginary("complex64", by_call["double()"])


def test_relayout_flips_layouts_but_not_views():
    flipped = mt.relayout(BP)
    assert [t.layout for t in flipped.tensors] == [
        "contiguous", "contiguous", "contiguous", "contiguous", "contiguous", "contiguous", "contiguous", "contiguous"]
    plain = Blueprint((ROOT,), (TensorSpec((2, 2), "float32"), TensorSpec((1, 2, 1, 2), "float32"),
                                TensorSpec((1, 3), "float32"), TensorSpec((1, 1, 1, 2), "float32")) + TENSORS[4:])
    assert [t.layout for t in mt.relayout(plain).tensors[:4]] == ["transposed", "channels_last", "contiguous", "contiguous"]


def test_loaded_aliases_and_state_locations():
    # a (non-persistent) views p's storage, which the state dict loads: its values after a load are unchecked
    assert mt.aliases_of_loaded(BP) == {2}
    shared = Blueprint((Node("Module", (Slot("buffer", "x", 0, persistent=False), Slot("buffer", "y", 0))),),
                       (TensorSpec((2,), "float32"),))
    assert [(loc.name, loc.tensor) for loc in mt.state_locations(shared)] == [("y", 0)]


def test_rendering_of_the_new_fields():
    body = build.render_body(BP)
    assert "t0 = nn.Parameter(_c((4,), torch.complex64, 0), requires_grad=True)\nt0.grad = _c((4,), torch.complex64, 1)\n" in body
    assert "t3 = _t((2, 3), torch.float32, 3).t().contiguous().t()\n" in body
    assert "t4 = _t((1, 2, 2, 3), torch.float64, 4).contiguous(memory_format=torch.channels_last)\n" in body
    assert "t1 = nn.Parameter(t0.detach()[1:3].view((2,)), requires_grad=True)\n" in body
    assert "t6 = t5.detach()[1:3].view((2,))\n" in body
    assert body.index("t5 = ") < body.index("t1 = ")  # every base before every view
    assert "def _c(" in build.render(BP) and "def _c(" not in build.render(Blueprint((ROOT,), (TensorSpec((1,), "float32"),) * 8))


def test_default_specs_render_as_before():
    bp = Blueprint((Node("Module", (Slot("param", "p", 0), Slot("buffer", "b", 1))),),
                   (TensorSpec((2,), "float32", True, True, 0), TensorSpec((1,), "int64", seed=1)))
    assert build.render_body(bp) == (
        "t0 = nn.Parameter(_t((2,), torch.float32, 0), requires_grad=True)\n"
        "t0.grad = _t((2,), torch.float32, 1)\n"
        "t1 = _t((1,), torch.int64, 1)\n"
        "n0 = nn.Module()\n"
        "n0.register_parameter('p', t0)\n"
        "n0.register_buffer('b', t1, persistent=True)\n"
        "root = n0\n")
