"""The machine's reference model (``conformance.model_machine``) on hand-worked examples.

Each expectation is worked out by hand from the rule it tests (the module docstring of
``model_machine``), not obtained from torch.
"""
from conformance import model_machine as mm
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec


def graph() -> mm.Graph:
    """root (Module): child 'a' -> n1 (Module with parameter 'w' = t0 and buffer 'b' = t1,
    non-persistent), child 's' -> n1 again (shared); n0 is an unreachable Module."""
    t0 = TensorSpec((2,), "float32", requires_grad=True)
    t1 = TensorSpec((3,), "int64", seed=1)
    n1 = Node("Module", (Slot("param", "w", 0), Slot("buffer", "b", 1, persistent=False)))
    root = Node("Module", (Slot("child", "a", 1), Slot("child", "s", 1)))
    return mm.start(Blueprint((Node("Module"), n1, root), (t0, t1)))


def test_start_values_and_flags():
    g = graph()
    assert g.values == ((-5, 2), (-4, 3, -1))  # (7k + seed) % 11 - 5
    assert g.training == (True, True, True)
    assert mm.label(g, 2) == "root" and mm.label(g, 1) == "n1"


def test_view_of_a_shared_module():
    v = mm.view(graph())
    assert v["modules_all"] == [("", "root", True), ("a", "n1", True), ("s", "n1", True)]
    assert v["modules"] == [("", "root"), ("a", "n1")]
    assert v["children"] == [("", [("a", "n1")]), ("a", [])]
    assert v["params_all"] == [("a.w", "t0", True), ("s.w", "t0", True)]
    assert v["params"] == [("a.w", "t0", True)]
    assert v["buffers"] == [("a.b", "t1", False)]
    assert v["state_dict"] == ["a.w", "s.w"]  # the buffer is not persistent
    assert v["tensors"] == [("a.w", "float32", True, (-5, 2)), ("a.b", "int64", False, (-4, 3, -1))]


def test_new_node_goes_before_the_root():
    g, i = mm.new_node(graph())
    assert i == 2 and g.bp.root == 3 and g.bp.nodes[2] == Node("Module")
    assert mm.label(g, 3) == "root" and g.training == (True,) * 4


def test_new_tensor_values():
    g, t = mm.new_tensor(graph(), requires_grad=True)
    assert t == 2 and g.values[2] == (2, 2) and g.bp.tensors[2] == TensorSpec((2,), "float32", requires_grad=True)


def test_put_same_kind_keeps_place_other_kind_goes_last_delete_removes():
    g = graph()
    same = mm.put(g, 1, "w", "param", None)
    assert [(s.kind, s.name, s.ref) for s in same.bp.nodes[1].slots] == [("param", "w", None), ("buffer", "b", 1)]
    other = mm.put(g, 1, "w", "buffer", 0)
    assert [(s.kind, s.name) for s in other.bp.nodes[1].slots] == [("buffer", "b"), ("buffer", "w")]
    gone = mm.put(g, 1, "w", None)
    assert [s.name for s in gone.bp.nodes[1].slots] == ["b"]
    again = mm.put(gone, 1, "w", "param", 0)
    assert [s.name for s in again.bp.nodes[1].slots] == ["b", "w"]  # re-registered after del: last


def test_reregistering_a_buffer_switches_persistence_in_place():
    g = mm.put(graph(), 1, "b", "buffer", 1, persistent=True)
    assert mm.view(g)["state_dict"] == ["a.w", "a.b", "s.w", "s.b"]
    assert [s.name for s in g.bp.nodes[1].slots] == ["w", "b"]


def test_setattr_outcome_matrix():
    assert mm.setattr_outcome("buffer", True, mm.PARAMETER) == ("param", True)
    assert mm.setattr_outcome("param", True, mm.NONE) == ("param", True)
    assert mm.setattr_outcome("param", True, mm.TENSOR) == "TypeError"
    assert mm.setattr_outcome("param", True, mm.MODULE) == "TypeError"
    assert mm.setattr_outcome("buffer", False, mm.MODULE) == ("child", True)
    assert mm.setattr_outcome("child", True, mm.TENSOR) == "TypeError"
    assert mm.setattr_outcome("buffer", False, mm.TENSOR) == ("buffer", False)  # persistence kept
    assert mm.setattr_outcome("buffer", False, mm.BUFFER) == ("buffer", True)  # the Buffer's own
    assert mm.setattr_outcome(None, True, mm.BUFFER_NP) == ("buffer", False)
    assert mm.setattr_outcome("buffer", True, mm.LIST) == "TypeError"
    assert mm.setattr_outcome("plain", True, mm.BUFFER) == "KeyError"
    assert mm.setattr_outcome(None, True, mm.TENSOR) == ("plain", True)


def test_rejection_order():
    assert mm.rejection("add_module", "a.b", None, mm.TENSOR) == "TypeError"  # the value first
    assert mm.rejection("add_module", "a.b", None, mm.MODULE) == "KeyError"
    assert mm.rejection("add_module", 5, None, mm.MODULE) == "TypeError"
    assert mm.rejection("add_module", "w", "param", mm.MODULE) == "KeyError"
    assert mm.rejection("register_parameter", 5, None, mm.TENSOR) == "TypeError"  # the name first
    assert mm.rejection("register_parameter", "", None, mm.TENSOR) == "KeyError"
    assert mm.rejection("register_parameter", "w", "param", mm.TENSOR) == "TypeError"
    assert mm.rejection("register_parameter", "w", "param", mm.PARAMETER) is None
    assert mm.rejection("register_buffer", "forward", "class", mm.TENSOR) == "KeyError"
    assert mm.rejection("register_buffer", "b", "buffer", mm.MODULE) == "TypeError"
    assert mm.rejection("register_buffer", "fresh", None, mm.NONE) is None


def test_train_sets_the_subtree_of_a_shared_module():
    g = mm.train(graph(), 1, False)
    assert g.training == (True, False, True)
    assert mm.train(g, 2, False).training == (True, False, False)
    assert mm.train(g, 0, False).training == (False, False, True)


def test_requires_grad_and_casts():
    g = mm.requires_grad_(graph(), False)
    assert not g.bp.tensors[0].requires_grad and g.bp.tensors[1] == graph().bp.tensors[1]
    half = mm.cast(graph(), "half()")
    assert [t.dtype for t in half.bp.tensors] == ["float16", "int64"]  # integer buffers keep their dtype
    assert half.bp.tensors[0].requires_grad and half.values == graph().values
    assert mm.cast_changes(graph(), "half()") == {0} and mm.cast_changes(graph(), "float()") == set()


def test_shared_tensors_are_slots_not_paths():
    g = graph()
    assert mm.shared_tensors(g) == set()  # one slot under two paths (a shared module) is no tie
    tied = mm.put(g, 2, "p", "param", 0)
    assert mm.shared_tensors(tied) == {0}


def test_snapshot_and_loads():
    g = mm.put(graph(), 1, "b", "buffer", 1, persistent=True)
    snap = mm.snapshot(g)
    assert snap == (("a.w", ((2,), "float32", (-5, 2))), ("a.b", ((3,), "int64", (-4, 3, -1))),
                    ("s.w", ((2,), "float32", (-5, 2))), ("s.b", ((3,), "int64", (-4, 3, -1))))
    gone = mm.put(g, 1, "b", None)
    assert mm.load_keys(gone, snap) == ([], ["a.b", "s.b"])
    changed = mm.set_specs(g, {}, {0: (0, 0)})
    loaded, placed = mm.load(changed, snap, assign=False)
    assert loaded.values[0] == (-5, 2) and placed == {}
    assigned, placed = mm.load(changed, snap, assign=True)
    assert placed == {(1, "w"): 2, (1, "b"): 3}  # one new object per (module, name): the last key
    assert mm.view(assigned)["params"] == [("a.w", "t2", True)]
    assert assigned.bp.tensors[2].requires_grad and not assigned.bp.tensors[3].requires_grad


def test_loadable_needs_equal_shapes_and_exact_conversions():
    g = graph()
    snap = mm.snapshot(g)
    assert mm.loadable(g, snap, assign=True)
    assert not mm.loadable(g, (("a.w", ((3,), "float32", (0, 0, 0))),), assign=False)
    assert mm.loadable(g, (("a.w", ((2,), "float64", (0, 0))),), assign=False)
    assert not mm.loadable(g, (("a.w", ((2,), "float64", (0, 0))),), assign=True)
    assert not mm.loadable(g, (("a.w", ((2,), "int64", (0, 0))),), assign=False)


def test_ancestors_and_first_paths():
    g = graph()
    assert mm.ancestors(g, 1) == {1, 2} and mm.ancestors(g, 0) == {0}
    nodes, tensors = mm.first_paths(g)
    assert nodes == {2: "", 1: "a"} and tensors == {0: "a.w", 1: "a.b"}
